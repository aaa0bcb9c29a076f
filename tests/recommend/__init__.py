"""Tests of wsztune/recommend: the decision, its robustness, cost and gate."""
