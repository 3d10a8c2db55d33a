"""A child started through `devstack.parent_death` dies with its parent, however the parent ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from devstack.parent_death import ENABLED, guarded
from tests.e2e.stack import REPO_ROOT, still_alive

pytestmark = pytest.mark.skipif(not ENABLED, reason="parent-death signals are Linux only")

# A parent that starts a long sleep as the supervisor starts its children, prints its pid, then waits.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from devstack.parent_death import guarded
    child = subprocess.Popen(guarded(["sleep", "600"]), start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def start_parent() -> tuple[subprocess.Popen[str], psutil.Process]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    # The launcher execs `sleep` once its request is in place; only then is the child guarded.
    deadline = time.monotonic() + 10
    while child.name() != "sleep" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.name() == "sleep"
    return parent, child


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSEGV])
def test_the_child_dies_when_its_parent_is_killed_or_crashes(how: signal.Signals) -> None:
    parent, child = start_parent()
    try:
        parent.send_signal(how)
        parent.wait(timeout=10)
        assert still_alive([child], timeout=5) == []
    finally:
        if child.is_running():
            child.kill()


def test_the_child_outlives_nothing_but_runs_while_its_parent_does() -> None:
    parent, child = start_parent()
    try:
        time.sleep(0.5)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        assert child.ppid() == parent.pid
    finally:
        child.kill()
        parent.kill()
        parent.wait()


def test_a_launcher_whose_parent_is_already_gone_does_not_start_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    # Parent pid 1 is never ours: the launcher must refuse, as it would after losing the race with a death.
    argv = guarded(["touch", str(marker)])
    argv[argv.index("--") - 1] = "1"
    finished = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert finished.returncode != 0
    assert "is gone" in finished.stderr
    assert not marker.exists()
