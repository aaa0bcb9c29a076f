"""Tests of corpora/: the seeded generator and the committed corpora."""
