"""Tests of ci/: the CI script, the GitHub Action and the GitLab template, run here."""
