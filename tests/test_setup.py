"""The fresh-machine instructions: README's two commands, setup.sh and CI agree, and the studio
starts headless without a prompt."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.browser import launch_server

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


def test_streamlit_serves_this_machine_only_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] in ("localhost", "127.0.0.1")


def _listening(pid: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of the TCP sockets process ``pid`` listens on (from /proc, which names
    each socket's inode in the process's fds and each listening socket's address in net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}") if os.path.islink(f"/proc/{pid}/fd/{fd}") else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(fields[1].split(":")[0])
                # /proc prints the address as 32-bit words in host (little-endian) order.
                packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(ipaddress.ip_address(socket.inet_ntop(family, packed)))
    return found


@pytest.mark.slow
def test_the_start_command_listens_on_loopback_only(tmp_path: Path):
    """A server started as README's command starts it (no address flag) listens on the loopback
    interface only."""
    with launch_server(tmp_path / "streamlit.log", address=None) as server:
        listening = _listening(server.proc.pid)
    assert listening, "the server listens nowhere"
    assert all(address.is_loopback for address in listening), listening


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
