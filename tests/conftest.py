"""Shared test set-up: the fixtures come from airflow_provider_ango.testing.plugin (loaded by addopts)."""
