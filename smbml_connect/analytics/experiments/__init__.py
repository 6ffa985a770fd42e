"""A/B tests."""
