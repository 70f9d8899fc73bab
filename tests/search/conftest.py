"""Fixtures of the search tests: API bearer tokens, from the API tests."""

from tests.api.conftest import bearer  # noqa: F401  (a fixture, used by name)
