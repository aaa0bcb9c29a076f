"""Tests of wsztune/codecs/: each codec against its real library."""
