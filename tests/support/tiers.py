"""The test tiers: every test is of exactly one (``unit``, ``app``, ``cluster``, ``e2e``; registered
in pyproject.toml, described in docs/testing.md), and ``slow`` is a second marker for long tests of
any tier. tests/conftest.py imports the hook below, so that a run with a test of no tier, or of two,
fails before anything runs: a new file cannot forget its ``pytestmark``.

A run that selects by marker without naming ``slow`` leaves the slow tests out: ``-m unit`` is the
quick loop, the full suite (no ``-m``) runs everything, and ``-m "unit and slow"`` or
``-m "unit or slow"`` say otherwise where wanted."""

from __future__ import annotations

import re

import pytest

TIERS = ("unit", "app", "cluster", "e2e")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: an untiered test would silently leave every tier's run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the run when a collected test has no tier marker or more than one; leave the slow tests
    out of a run whose ``-m`` does not name them."""
    wrong = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            wrong.append(f"  {item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if wrong:
        raise pytest.UsageError(
            f"{len(wrong)} test(s) need exactly one tier marker of {', '.join(TIERS)} (a module-level "
            "`pytestmark = pytest.mark.unit`, say):\n" + "\n".join(wrong))
    expression = config.getoption("markexpr", "")
    if expression and not re.search(r"\bslow\b", expression):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
