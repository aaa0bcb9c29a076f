"""Tests of wsztune/stacks/: the profiles, and each stack's model against the real server."""
