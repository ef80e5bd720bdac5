"""Load-test tooling: data preparation commands (``shihui loadtest ...``) and Locust files."""
