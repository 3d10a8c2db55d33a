"""What a killed `iot-billing up` left running is stopped by the next start; a process that merely reuses
a recorded pid is never touched."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from devstack.leftovers import SUPERVISOR, DataDirInUse, PidFile


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    # Its own session, as the supervisor starts its children: the claim stops the whole group.
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def test_a_recorded_child_of_a_dead_supervisor_is_stopped(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    pids = PidFile(tmp_path / "processes.json")
    pids.record("worker", sleeper.pid)

    assert pids.claim() == [f"worker (pid {sleeper.pid})"]
    assert sleeper.wait(timeout=5) is not None
    entries = json.loads(pids.path.read_text())
    assert [(entry["name"], entry["pid"]) for entry in entries] == [(SUPERVISOR, os.getpid())]


def test_a_reused_pid_is_left_alone(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    pids = PidFile(tmp_path / "processes.json")
    # Same pid, another start time: the process recorded is gone and a stranger got its pid.
    started = psutil.Process(sleeper.pid).create_time() - 3600
    pids.path.write_text(json.dumps([{"name": "worker", "pid": sleeper.pid, "started": started}]))

    assert pids.claim() == []
    assert sleeper.poll() is None


def test_a_live_supervisor_keeps_its_data_dir(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    pids = PidFile(tmp_path / "processes.json")
    pids.record(SUPERVISOR, sleeper.pid)

    with pytest.raises(DataDirInUse, match=f"pid {sleeper.pid}"):
        pids.claim()
    assert sleeper.poll() is None
