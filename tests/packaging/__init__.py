"""Tests of the package as built and installed: the wheel holds every file the code runs."""
