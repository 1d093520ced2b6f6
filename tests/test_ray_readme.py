"""Ray 2.60's token authentication, and the commands of docs/scale-out.md run as written.

The token rule (``nst.run.cluster.authenticate``) is checked first, against a stand-in for the
cluster's answer, with Ray's own token loader and auth mode.

Then, marked slow, those commands as real processes: ``ray get-auth-token --generate`` and
the page's ``ray start --head`` in a private ``HOME`` and ``--temp-dir`` (so the token is this test's
alone), the CLI with ``--ray-address 127.0.0.1:PORT`` from a shell that exports no
``RAY_AUTH_MODE``, and the studio (``streamlit run app.py`` with ``NST_RAY_ADDRESS``) driven in
Chromium (first without the token: the page shows the refusal and the studio stays up; then with
it). Each run is seen in Ray's own task table (``ray list tasks``, the state API) as a
finished ``stylize_task`` on the cluster's node, run by a worker process of the cluster.

What one host cannot run: the page's head runs nothing (``--num-cpus=0``) and the work goes to
nodes added with ``ray start --address``. Every Ray process here must stay on 127.0.0.1, which
takes ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (tests/support/raycluster.py), and under it ``ray start
--address`` refuses to add a node ("Multi-node Ray clusters are not supported on Windows and
OSX"). So the head here is the page's head command with ``--num-cpus=1`` (a head that also runs
work), and the multi-node cases stay on the in-process cluster of tests/test_cluster.py. The
head's other ports are free ones, so that it meets no other Ray on the machine.

Clean-up is by PID: every process whose environment holds this test's ``HOME`` (the head's GCS,
raylet, agents and workers all inherit it). ``ray stop`` is not used, not even as a fallback: it
stops every Ray process of the machine, whatever ``HOME`` or ``--temp-dir``, other sessions' too.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.clips import pan, read_back, write_clip
from tests.support.synthetic import scene, stripes
from nst.run.cluster import token_refused
from tests.support.apptest import wait_for

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # the page's commands name .venv/bin/; this is the running one
AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
TOKEN = "0123456789abcdef" * 4  # the shape of Ray's own (a 64-digit hex string)
OTHER_TOKEN = "fedcba9876543210" * 4
RUN_TIMEOUT_S = 120.0


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment as a user's shell would have it: no Ray auth settings of ours,
    ``HOME`` private to the test, every Ray socket on 127.0.0.1 and no usage report sent."""
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    env.update(HOME=str(home), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0")
    env.update(extra)
    return env


def write_token(home: Path, token: str = TOKEN) -> Path:
    path = home / ".ray" / "auth_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token)
    return path


# -- the rule -------------------------------------------------------------------------------------
# One process runs every case (importing torch and Ray once takes seconds): each case sets its
# environment, then resets Ray's token cache and reloads its config, as Ray does after it writes a
# token. ``cluster(gcs)`` stands in for the GCS's answer to a connection: "none" takes any, "token"
# only one that sends a token (the token itself is checked by a real cluster below), "other" none
# that this process can send. The rule, Ray's token loader and its auth mode are the real ones.
RULE = """
import json, os, sys
from ray._raylet import AuthenticationMode, AuthenticationTokenLoader, Config, get_authentication_mode
from nst.run.cluster import authenticate
from nst.core.errors import ClusterUnreachableError

def sending():
    return get_authentication_mode() == AuthenticationMode.TOKEN

base = dict(os.environ)
for line in sys.stdin:
    case = json.loads(line)
    os.environ.clear()
    os.environ.update(base, **case["env"])
    AuthenticationTokenLoader.instance().reset_cache()
    Config.initialize("")
    asked = []
    def cluster(gcs):
        asked.append(sending())
        return {"none": True, "token": sending(), "other": False}[case["wants"]]
    try:
        authenticate("127.0.0.1:6379", cluster)
        error = ""
    except ClusterUnreachableError as exc:
        error = str(exc)
    print(json.dumps({"mode": os.environ.get("RAY_AUTH_MODE"), "sending": sending(), "asked": asked, "error": error}))
"""

SENT_NONE = token_refused("127.0.0.1:6379", sent=False)
REFUSED = token_refused("127.0.0.1:6379", sent=True)
MISSING = "/nonexistent/nst-test/auth_token"
UNREADABLE = (f"This machine's Ray authentication token cannot be read (RAY_AUTH_TOKEN_PATH is set but file cannot be"
              f" opened or is empty: {MISSING}).")
# name: (where this machine's token is, what the cluster wants, RAY_AUTH_MODE after, connections as
# they went (sending a token or not), the error)
CASES = {
    "token in ~/.ray/auth_token": ("home", "token", "token", [False, True], ""),
    "token in RAY_AUTH_TOKEN": ("env", "token", "token", [False, True], ""),
    "token in RAY_AUTH_TOKEN_PATH's file": ("path", "token", "token", [False, True], ""),
    "a cluster without auth gets no token": ("home", "none", None, [False], ""),
    "no token anywhere": ("nowhere", "token", None, [False], SENT_NONE),
    "a token the cluster refuses": ("home", "other", "token", [False, True], REFUSED),
    "RAY_AUTH_MODE=disabled is kept": ("home disabled", "token", "disabled", [False], SENT_NONE),
    "RAY_AUTH_MODE=token is kept": ("home token", "token", "token", [True], ""),
    "an unreadable RAY_AUTH_TOKEN_PATH": ("missing", "token", None, [False], UNREADABLE),
}


@pytest.fixture(scope="module")
def rule_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every case's outcome by name."""
    lines = []
    for where, wants, *_ in CASES.values():
        home = tmp_path_factory.mktemp("home")
        env = {"HOME": str(home)}
        if where.startswith("home"):
            write_token(home)
        elif where == "env":
            env["RAY_AUTH_TOKEN"] = TOKEN
        elif where == "path":
            env["RAY_AUTH_TOKEN_PATH"] = str(write_token(home / "elsewhere"))
        elif where == "missing":
            env["RAY_AUTH_TOKEN_PATH"] = MISSING
        if where.startswith("home "):
            env["RAY_AUTH_MODE"] = where.split()[1]
        lines.append(json.dumps({"env": env, "wants": wants}))
    done = subprocess.run([sys.executable, "-c", RULE], cwd=REPO, env=clean_env(Path("/nonexistent")),
                          input="\n".join(lines), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return dict(zip(CASES, outcomes, strict=True))


@pytest.mark.parametrize("case", list(CASES))
def test_the_token_rule(rule_results: dict[str, dict], case: str) -> None:
    """A token is sent exactly when the cluster asks for one and this machine has it where Ray
    looks; an explicit RAY_AUTH_MODE is kept; a refusal is the one sentence."""
    _, _, mode, asked, error = CASES[case]
    got = rule_results[case]
    assert (got["mode"], got["asked"], got["error"]) == (mode, asked, error), got
    assert got["sending"] == (mode == "token")


def test_the_refusal_names_the_token_settings_and_the_docs_explain_them() -> None:
    for sentence in (SENT_NONE, REFUSED):
        assert "RAY_AUTH_TOKEN " in sentence and "RAY_AUTH_TOKEN_PATH" in sentence
        assert 'README\'s "Scale out" section' in sentence and sentence.count(". ") == 0
    # The sentence sends the user to README's "Scale out", which names the settings and links the page
    # that explains them.
    readme = (REPO / "README.md").read_text().split("\n## Scale out\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/scale-out.md" in readme
    for text in (readme, scale_out_page()):
        for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token", "RAY_AUTH_MODE"):
            assert name in text, name
    assert "refused this machine's Ray authentication token" in scale_out_page()


# -- the commands of docs/scale-out.md -------------------------------------------------------------
def scale_out_page() -> str:
    return (REPO / "docs" / "scale-out.md").read_text()


def page_command(start: str) -> list[str]:
    """The one command of docs/scale-out.md's first code block that begins with ``start``, as argv."""
    block = scale_out_page().split("```bash\n", 1)[1].split("```", 1)[0]
    found = [line for line in block.splitlines() if line.startswith(start)]
    assert len(found) == 1, f"docs/scale-out.md's first block has {len(found)} commands starting {start!r}"
    return shlex.split(found[0], comments=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pids_with_home(home: Path) -> list[int]:
    """Every process whose environment holds ``HOME=home``: what this test started, and only that."""
    wanted = f"HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # ended meanwhile, or not ours to read
                pass
    return found


def stop_processes(home: Path) -> None:
    """SIGTERM, then SIGKILL after 3 s, to the processes of this ``HOME`` (a raylet may start
    workers meanwhile, so the list is read again). The GCS and the raylet outlive a SIGTERM by
    more than 15 s here; the cluster is thrown away, so nothing is lost by not waiting for them."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for pid in pids_with_home(home):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + wait
        while pids_with_home(home) and time.monotonic() < end:
            time.sleep(0.2)
        if not pids_with_home(home):
            return


@dataclass(frozen=True)
class Head:
    address: str
    home: Path
    temp_dir: Path
    protected: bool  # started with a token

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(self.home, **extra)

    def ray(self, *args: str) -> str:
        """A command of Ray's own CLI on this cluster; Ray's CLI sends the token only under
        RAY_AUTH_MODE=token, as docs/scale-out.md says."""
        env = self.env(RAY_AUTH_MODE="token") if self.protected else self.env()
        done = subprocess.run([str(VENV_BIN / "ray"), *args, "--address", self.address], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def tasks(self, name: str = "stylize_task") -> list[dict]:
        """Every task of this name Ray's state API knows of (``ray list tasks``)."""
        out = self.ray("list", "tasks", "--filter", f"name={name}", "--detail", "--format", "json")
        return [] if out.startswith("No resource in the cluster") else json.loads(out)

    def node_ids(self) -> set[str]:
        return {node["node_id"] for node in json.loads(self.ray("list", "nodes", "--format", "json"))}


@contextmanager
def page_head(tmp: Path, token: bool) -> Iterator[Head]:
    """The page's ``ray start --head`` (with ``--num-cpus=1``: see the module's docstring) in a fresh
    ``HOME`` under ``tmp``; with ``token``, ``ray get-auth-token --generate`` there first, so Ray
    protects the cluster with it. Every process it started is stopped when the block ends."""
    home = tmp / "home"
    home.mkdir()
    # Short: Ray's session holds unix sockets, whose paths may not exceed 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="nst-ray-", dir="/tmp"))
    env = clean_env(home)
    try:
        if token:
            generate = subprocess.run([str(VENV_BIN / "ray"), "get-auth-token", "--generate"], env=env,
                                      capture_output=True, text=True, timeout=60)
            assert generate.returncode == 0 and (home / ".ray" / "auth_token").is_file(), generate.stderr
        argv = page_command(".venv/bin/ray start --head")
        port = free_port()
        argv = [str(VENV_BIN / "ray"), *argv[1:]]
        argv = [f"--port={port}" if a.startswith("--port=") else "--num-cpus=1" if a == "--num-cpus=0" else a
                for a in argv]
        argv += ["--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", "--dashboard-host=127.0.0.1",
                 f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}",
                 f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                 f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                 "--disable-usage-stats"]
        started = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        output = started.stdout + started.stderr
        assert started.returncode == 0, output[-3000:]
        said = "enabled" if token else "disabled"
        assert f"Token authentication is {said} for this Ray cluster" in output, output[-3000:]
        yield Head(f"127.0.0.1:{port}", home, temp_dir, token)
    finally:
        stop_processes(home)
        shutil.rmtree(temp_dir, ignore_errors=True)


def cli(head: Head, tmp: Path, **extra: str) -> tuple[subprocess.CompletedProcess, int]:
    """The page's CLI command (``.venv/bin/python -m nst photo.jpg painting.jpg -o out.png --ray-address
    …``) with this test's images, a small size, and the head's host:port; its outcome and PID."""
    argv = page_command(".venv/bin/python -m nst photo.jpg")
    photo, painting, out = tmp / "content.png", tmp / "style.png", tmp / "out.png"
    scene(64, 48).save(photo)
    stripes(48).save(painting)
    names = {"photo.jpg": str(photo), "painting.jpg": str(painting), "out.png": str(out)}
    argv = [sys.executable, *(names.get(a, a) for a in argv[1:])]
    argv[argv.index("--ray-address") + 1] = head.address
    argv += ["--size", "64", "--steps", "3", "--quiet"]
    with subprocess.Popen(argv, cwd=REPO, env=head.env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # a run that hangs (see the last test) fails, not the session
            proc.kill()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), proc.pid


def new_finished_task(head: Head, before: set[str], name: str = "stylize_task") -> dict:
    """The one task of this name that is not in ``before`` once Ray's task table shows it finished
    with its worker's log (task events reach the table a moment after the task ends, and the log's
    in a later event than the state: CI once read FINISHED with ``task_log_info`` still None)."""
    found: list[dict] = []

    def finished() -> bool:
        found[:] = [t for t in head.tasks(name) if t["task_id"] not in before and t["state"] == "FINISHED"
                    and t.get("task_log_info")]
        return bool(found)

    wait_for(finished, 30, interval=1.0, what="the run in Ray's task table")
    assert len(found) == 1, found
    return found[0]


def assert_ran_on_the_cluster(head: Head, task: dict, submitter: int, name: str = "stylize_task") -> None:
    """On the cluster's node, in a worker process of the cluster (its log is in the head's temp
    dir and names the task), not in the process that submitted it."""
    assert task["node_id"] in head.node_ids() and task["error_type"] is None, task
    assert task["worker_pid"] not in (submitter, os.getpid()), task
    log = Path(task["task_log_info"]["stdout_file"])
    assert log.is_relative_to(head.temp_dir) and f"-{task['worker_pid']}.out" in log.name, log
    assert f":task_name:{name}" in log.read_text().splitlines(), log


@pytest.fixture(scope="module")
def protected_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Head]:
    with page_head(tmp_path_factory.mktemp("protected"), token=True) as head:
        yield head


@pytest.mark.slow
def test_the_cli_joins_a_protected_cluster_by_host_and_port(protected_head: Head, tmp_path: Path) -> None:
    """No RAY_AUTH_MODE exported (before this change: "Could not join the Ray cluster" after 20 s)."""
    before = {t["task_id"] for t in protected_head.tasks()}
    done, pid = cli(protected_head, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out.png").is_file()
    assert_ran_on_the_cluster(protected_head, new_finished_task(protected_head, before), pid)


@pytest.mark.slow
def test_the_cli_styles_a_clip_on_a_protected_cluster(protected_head: Head, tmp_path: Path) -> None:
    """The page's clip command: the frames styled by a ``clip_task`` on the cluster, the clip (with
    its sound) written on this side."""
    clip = write_clip(tmp_path / "clip.mp4", pan(96, 64, frames=12), 12, 12, tone=330.0)
    stripes(48).save(tmp_path / "style.png")
    names = {"clip.mp4": str(clip), "painting.jpg": str(tmp_path / "style.png"),
             "styled.mp4": str(tmp_path / "styled.mp4")}
    argv = [sys.executable, *(names.get(a, a) for a in page_command(".venv/bin/python -m nst clip.mp4")[1:])]
    argv[argv.index("--ray-address") + 1] = protected_head.address
    before = {t["task_id"] for t in protected_head.tasks("clip_task")}
    with subprocess.Popen([*argv, "--size", "96", "--quiet"], cwd=REPO, env=protected_head.env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, err[-3000:]
    back = read_back(tmp_path / "styled.mp4")
    assert (back["frames"], back["audio"]) == (12, "aac")
    assert_ran_on_the_cluster(protected_head, new_finished_task(protected_head, before, "clip_task"), proc.pid,
                              "clip_task")


@pytest.mark.slow
@pytest.mark.parametrize("token", ["wrong", "none"])
def test_a_refused_token_is_one_line_from_the_cli_and_one_sentence_in_the_studio(
        protected_head: Head, tmp_path: Path, token: str) -> None:
    extra = {"RAY_AUTH_TOKEN": OTHER_TOKEN} if token == "wrong" else {"HOME": str(tmp_path)}  # a HOME without one
    sentence = token_refused(protected_head.address, sent=token == "wrong")
    started = time.monotonic()
    done, _ = cli(protected_head, tmp_path, **extra)
    assert done.returncode == 2 and done.stderr == f"nst: error: {sentence}\n", done.stderr[-3000:]
    assert time.monotonic() - started < 30, "ray.init's 20 s of retries are not waited for"
    assert not (tmp_path / "out.png").exists()

    code = """
from tests.support.synthetic import scene, stripes
from nst import Settings
from studio.services.jobs import Job
job = Job(scene(64, 48), [stripes(48)], Settings(size=32, steps=2, device="cpu")).start()
assert job.join(60)
print(job.snapshot().status)
print(job.snapshot().message)
"""
    env = protected_head.env(NST_RAY_ADDRESS=protected_head.address, **extra)
    job = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT_S)
    assert job.returncode == 0, job.stderr[-3000:]
    assert job.stdout.splitlines() == ["failed", sentence]


@pytest.mark.slow
def test_the_studio_shows_a_refusal_stays_up_and_runs_once_the_token_is_there(
        protected_head: Head, browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In Chromium: a web node without the token shows the sentence; the head's token copied to
    its ~/.ray/auth_token (no restart, no RAY_AUTH_MODE), the next Start runs on the cluster."""
    from tests.support.browser import ERRORS_JS, launch_server, make_content, make_style, new_page, prepare, run_journal, \
        start_run

    web_home = tmp_path / "web-home"
    web_home.mkdir()
    for name in AUTH_VARS:  # the server inherits this process's environment: no auth settings, its own HOME
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(web_home))
    sentence = token_refused(protected_head.address, sent=False)
    before = {t["task_id"] for t in protected_head.tasks()}
    content, style = make_content(tmp_path / "content.png"), make_style(tmp_path / "style.png")
    env = {"NST_RAY_ADDRESS": protected_head.address, "RAY_USAGE_STATS_ENABLED": "0"}
    with launch_server(tmp_path / "streamlit.log", env) as server:
        page = new_page(browser)
        try:
            prepare(page, server.url, content, style, 5, 64)
            start_run(page)
            wait_for(lambda: any(sentence in e for e in page.evaluate(ERRORS_JS)), 60, interval=0.2,
                     what="the refusal on the page")
            assert server.proc.poll() is None and protected_head.tasks() == [t for t in protected_head.tasks()
                                                                              if t["task_id"] in before]

            write_token(web_home, (protected_head.home / ".ray" / "auth_token").read_text())
            start_run(page)  # the refusal stays on the page until this run's outcome replaces it
            wait_for(lambda: run_journal(page)["result"] is not None, RUN_TIMEOUT_S, interval=0.2,
                     what="the result after the token was copied")
            wait_for(lambda: page.evaluate(ERRORS_JS) == [], 10, interval=0.2, what="the refusal to go")
        finally:
            page.context.close()
        assert_ran_on_the_cluster(protected_head, new_finished_task(protected_head, before), server.proc.pid)


@pytest.mark.slow
def test_a_cluster_without_auth_takes_runs_from_a_machine_with_a_token(tmp_path: Path) -> None:
    """A token left in ~/.ray/auth_token must not be sent to a cluster that asks for none: a driver
    that sends one wants one back from the workers, which have none, and its run hangs."""
    with page_head(tmp_path, token=False) as head:
        write_token(head.home)  # after the head started: the head has no auth, this machine a token
        before = {t["task_id"] for t in head.tasks()}
        done, pid = cli(head, tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_ran_on_the_cluster(head, new_finished_task(head, before), pid)
