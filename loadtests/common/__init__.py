"""Shared pieces of the Locust scenarios: test data files and outcome bookkeeping."""
