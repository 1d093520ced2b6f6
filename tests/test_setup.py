"""The fresh-machine instructions: README's two commands, setup.sh and CI agree, and the studio
starts headless without a prompt."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

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


def test_setup_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "setup.sh")], check=True)


def test_the_cpu_requirements_keep_the_pinned_versions():
    pins = dict(re.findall(r"^(torch|torchvision)==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M))
    cpu = dict(re.findall(r"^(torch|torchvision)==([\d.]+)\+cpu", (ROOT / "requirements-cpu.txt").read_text(), re.M))
    assert cpu == pins and set(pins) == {"torch", "torchvision"}


def test_streamlit_runs_headless_without_a_file_watcher():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["headless"] is True  # no first-run e-mail prompt on a desktop
    assert config["server"]["fileWatcherType"] == "none"
