"""Test helpers for this provider and its users: emulators on loopback and a pytest plugin.

Load the plugin with ``-p airflow_provider_ango.testing.plugin``; see that module for its fixtures.
"""
