"""The studio as README's start command starts it (no address flag): a real server, whose
listening sockets are read from /proc. No browser: what is checked is where the server listens."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from tests.support.browser import launch_server

pytestmark = pytest.mark.slow  # a fresh server imports torch and the app


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


def test_the_start_command_listens_on_loopback_only(tmp_path: Path):
    """A server started as README's command starts it (no address flag) listens on the loopback
    interface only."""
    with launch_server(tmp_path / "streamlit.log", address=None) as server:
        listening = _listening(server.proc.pid)
    assert listening, "the server listens nowhere"
    assert all(address.is_loopback for address in listening), listening
