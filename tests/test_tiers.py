"""The tiers (tests/support/tiers.py) on a small suite of their own, run by a fresh pytest: a test of
no tier or of two fails the whole run, before anything runs and whatever ``-m`` selects; a selection
by marker leaves the slow tests out unless it names them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
HEADER = "import pytest\n\n"


def run(tmp_path: Path, tests: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """pytest over ``tests`` (file name: body), with the suite's tier check as the only conftest."""
    (tmp_path / "conftest.py").write_text("from tests.support.tiers import pytest_collection_modifyitems  # noqa\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    unit\n    app\n    cluster\n    e2e\n    slow\n")
    for name, body in tests.items():
        (tmp_path / name).write_text(HEADER + body)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})


@pytest.mark.parametrize("args, ran", [
    ((), {"test_quick", "test_long", "test_page"}),  # the full suite
    (("-m", "unit"), {"test_quick"}),  # the quick loop
    (("-m", "unit and slow"), {"test_long"}),
    (("-m", "unit or slow"), {"test_quick", "test_long"}),
    (("-m", "not slow"), {"test_quick", "test_page"}),
], ids=["all", "-m unit", "-m unit and slow", "-m unit or slow", "-m not slow"])
def test_a_selection_by_marker_leaves_the_slow_tests_out_unless_it_names_them(
        tmp_path: Path, args: tuple[str, ...], ran: set[str]) -> None:
    done = run(tmp_path, {
        "test_u.py": "pytestmark = pytest.mark.unit\n\ndef test_quick():\n    pass\n\n"
                     "@pytest.mark.slow\ndef test_long():\n    pass\n",
        "test_a.py": "pytestmark = pytest.mark.app\n\ndef test_page():\n    pass\n",
    }, "-vv", *args)  # -vv: one line a test, over run()'s -q
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(re.findall(r"::(test_\w+) PASSED", done.stdout)) == ran, done.stdout


def test_one_tier_each_runs(tmp_path: Path) -> None:
    done = run(tmp_path, {"test_a.py": "pytestmark = pytest.mark.unit\n\ndef test_a():\n    assert True\n",
                          "test_b.py": "pytestmark = [pytest.mark.app, pytest.mark.slow]\n\ndef test_b():\n    pass\n"})
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("args", [(), ("-m", "unit")], ids=["all", "-m unit"])
def test_a_test_of_no_tier_or_two_fails_the_run_and_is_named(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run(tmp_path, {
        "test_a.py": "pytestmark = pytest.mark.unit\n\ndef test_a():\n    pass\n",
        "test_none.py": "def test_forgot():\n    pass\n",
        "test_two.py": "pytestmark = pytest.mark.unit\n\n@pytest.mark.e2e\ndef test_both():\n    pass\n",
    }, *args)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "2 test(s) need exactly one tier marker" in done.stderr
    assert "test_none.py::test_forgot: no tier" in done.stderr and "test_two.py::test_both: e2e, unit" in done.stderr
    assert "passed" not in done.stdout  # nothing ran
