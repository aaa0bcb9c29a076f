"""Tests of wsztune/programs: finding and installing the external programs the codecs run."""
