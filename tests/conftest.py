"""Shared pytest options and fixtures.

Other test modules may add their own fixtures here (keep each one small and
say what it is for); the golden-file option below is used by test_golden.py.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/golden/<case>/plan.json and scripts/ from the current compiler "
        "(review the diff before committing)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when pytest runs with --update-goldens."""
    return bool(request.config.getoption("--update-goldens"))
