"""Tests of notebooks/: the notebooks run top to bottom."""
