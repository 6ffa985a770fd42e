"""Pieces several analytic families share: encoders, learners, metrics, a GLM."""
