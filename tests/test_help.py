"""Every entry point answers ``--help``: README sends users there first.

The entry points are found, not listed: each module of ``nst/`` and ``bench/`` that runs as
``python -m`` (it has a ``__main__`` guard, or is a package's ``__main__``), and each script in
``bench/``, so a new command is covered the day it is written.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def _entry_points() -> list[str]:
    found = []
    for package in ("nst", "bench"):
        if (ROOT / package / "__main__.py").is_file():
            found.append(package)
        for path in sorted((ROOT / package).glob("*.py")):
            if path.name != "__main__.py" and 'if __name__ == "__main__"' in path.read_text():
                found.append(f"{package}.{path.stem}")
    return found


ENTRY_POINTS = _entry_points()


def test_the_entry_points_are_found() -> None:
    # The discovery itself can fail silently (a renamed folder): it must at least find the CLI.
    assert "nst" in ENTRY_POINTS and "bench.print_size" in ENTRY_POINTS


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_prints_usage_and_exits_0(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # In this process, as `python -m` runs it (run_name "__main__"), so torch is imported once.
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert exit_.value.code in (0, None)
    text = out.getvalue()
    assert text.startswith("usage: python -m "), text[:200]
    assert len(text.splitlines()) > 3


SCRIPTS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "bench").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_scripts_help_says_what_it_does_and_does_nothing(script: str) -> None:
    done = subprocess.run(["bash", script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert f"bash {script}" in done.stdout and len(done.stdout.splitlines()) > 3


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_cli_help_as_readme_runs_it() -> None:
    """`python -m nst --help` in a fresh process: every setting's flag, with its rule's help."""
    done = subprocess.run([sys.executable, "-m", "nst", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--max-memory" in done.stdout and "80 % on a GPU" in done.stdout
