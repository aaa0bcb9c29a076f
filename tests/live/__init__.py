"""Tests of wsztune/live/: live checks and probes against real servers."""
