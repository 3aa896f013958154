"""Tests on a real Airflow deployment (see conftest)."""

import pytest

# support.py holds assertions shared by the tests: have pytest explain them when they fail.
pytest.register_assert_rewrite("tests.deployment.support")
