"""The fresh-machine instructions: README's two commands, setup.sh and CI agree, and the studio
starts headless without a prompt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The bash blocks under README's "Two commands" heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_gives_two_venv_commands_and_ci_runs_the_test_one():
    start, test = readme_commands()[:2]
    for command in (start, test):
        assert command.startswith("bash setup.sh") and ".venv/bin/python -m " in command
        assert not re.search(r"(^|[;&|] *)python -m", command)  # Debian has no `python` command
    assert "streamlit run app.py" in start and "--dev" in test and test.endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci  # the exact command, verbatim


# What setup.sh needs from the checkout, and what the studio needs to start from the copy it makes.
CHECKOUT = ("setup.sh", "requirements.txt", "requirements-dev.txt", "requirements-ray.txt", "requirements-cpu.txt",
            "app.py", "pages", "nst", "studio", ".streamlit")


def checkout_copy(into: Path) -> Path:
    """A copy of the checkout's code and setup files, without its .venv."""
    copy = into / "checkout"
    copy.mkdir()
    for name in CHECKOUT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    return copy


def run_setup(copy: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    """``bash setup.sh ARGS`` in ``copy``. pip may not reach an index (PIP_NO_INDEX): a requirement the
    venv lacks fails the run instead of being downloaded."""
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PATH": path or os.environ["PATH"]}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(["bash", "setup.sh", *args], cwd=copy, env=env, capture_output=True, text=True, timeout=600)


def test_setup_refuses_a_python_older_than_3_11_in_one_line(tmp_path: Path):
    """Before it touches anything: one line naming the Python it found, exit 1, no .venv."""
    copy = checkout_copy(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/bin/sh\n[ "$1" = --version ] && echo "Python 3.9.2" && exit 0\nexit 1\n')
    (fake / "python3").chmod(0o755)
    done = run_setup(copy, path=f"{fake}:{os.environ['PATH']}")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "setup.sh: Python 3.11 or newer is needed, found Python 3.9.2"
    assert not (copy / ".venv").exists()


@pytest.mark.slow  # pip checks every requirement (about 10 s), then the copy's venv imports torch and runs the page
def test_setup_keeps_a_ready_venv_and_its_python_runs_the_studio(tmp_path: Path):
    """``bash setup.sh --dev`` for real, in a copy of the checkout whose .venv already has everything:
    a venv of its own that sees this checkout's packages through a .pth file, so that nothing is
    downloaded and this checkout's venv is not written (pip installs into the running venv). setup.sh
    keeps that venv (it is not made again), installs nothing, and its python imports the copy's code
    and runs the Stylize page."""
    copy = checkout_copy(tmp_path)
    # Without pip of its own: an older pip and setuptools from ensurepip would hide the ones here.
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(copy / ".venv")], check=True, timeout=300)
    python = copy / ".venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    here = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "checkout-packages.pth").write_text(here + "\n")
    made = (copy / ".venv" / "pyvenv.cfg").stat().st_ino

    done = run_setup(copy, "--dev")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (copy / ".venv" / "pyvenv.cfg").stat().st_ino == made, "setup.sh made the venv again"
    assert "Successfully installed" not in done.stdout, done.stdout[-3000:]

    page = """
import nst, studio, pytest, playwright, ray, importlinter
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=300).run()
assert not at.exception, [e.value for e in at.exception]
print(nst.__file__)
print([b.label for b in at.button])
"""
    ran = subprocess.run([str(python), "-c", page], cwd=copy, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": ""})
    assert ran.returncode == 0, ran.stderr[-3000:]
    where, buttons = ran.stdout.strip().splitlines()[-2:]
    assert Path(where).is_relative_to(copy), where  # the copy's code, not this checkout's
    assert "'Start'" in buttons, buttons  # the Stylize page was drawn, its Start button with it


def test_the_cpu_requirements_keep_the_pinned_versions():
    pins = dict(re.findall(r"^(torch|torchvision)==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M))
    cpu = dict(re.findall(r"^(torch|torchvision)==([\d.]+)\+cpu", (ROOT / "requirements-cpu.txt").read_text(), re.M))
    assert cpu == pins and set(pins) == {"torch", "torchvision"}


def test_streamlit_runs_headless_without_a_file_watcher():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["headless"] is True  # no first-run e-mail prompt on a desktop
    assert config["server"]["fileWatcherType"] == "none"


def test_streamlit_serves_this_machine_only_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] in ("localhost", "127.0.0.1")


# A command that only exists inside the virtual environment, at the start of a command line.
_VENV_ONLY = re.compile(r"(?:^|&&|;|\|)\s*(?:[A-Z_]+=\S*\s+)*(python3?|streamlit|ray|pytest)\s")


def test_readme_commands_name_the_venv():
    """`setup.sh` puts everything in .venv and activates nothing: a README command that starts
    `python`, `ray`, `streamlit` or `pytest` bare fails (Debian has no `python` at all), unless its
    block activates the venv first."""
    text = (ROOT / "README.md").read_text()
    bare = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        if re.search(r"^\s*(source|\.) \.venv/bin/activate", block, re.M):
            continue
        bare += [line for line in block.splitlines() if _VENV_ONLY.search(line.split("#")[0])]
    # Commands quoted in the text too (`python -m bench.load …`; a bare `ray start` there names Ray's
    # command, not a line to copy).
    bare += re.findall(r"`(python3? -m [^`\n]*)`", re.sub(r"```.*?```", "", text, flags=re.S))
    assert not bare, "README commands that need the venv: " + "; ".join(bare)
