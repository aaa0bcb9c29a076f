"""Tests of docs/ and the README: the site builds, every command shown exists."""
