"""Tests of wsztune/cli/: the commands through click's CliRunner and as processes."""
