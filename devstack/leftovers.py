"""Children of an earlier `iot-billing up` that was killed outright (SIGKILL, a crashed terminal) keep
running and holding their ports. The stack records what it starts in its data dir, and stops what an
earlier run left behind before it starts anything."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import psutil

STOP_SECONDS = 10.0
SUPERVISOR = "supervisor"


class DataDirInUse(Exception):
    pass


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, name: str, pid: int) -> None:
        entries = self._read()
        with contextlib.suppress(psutil.Error):
            # The start time tells our process from a later one that reuses its pid.
            entries.append({"name": name, "pid": pid, "started": psutil.Process(pid).create_time()})
        self.path.write_text(json.dumps(entries))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def claim(self) -> list[str]:
        """Take the data dir for this process: refuse it while another stack runs on it, and stop what a
        killed one left running. Return the names of what was stopped."""
        entries = self._read()
        for entry in entries:
            if entry.get("name") == SUPERVISOR and (holder := _same_process(entry)) is not None:
                raise DataDirInUse(f"another `iot-billing up` (pid {holder.pid}) runs on this data dir")
        stopped = []
        for entry in entries:
            process = _same_process(entry)
            if process is None or entry.get("name") == SUPERVISOR:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except psutil.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            stopped.append(f"{entry['name']} (pid {process.pid})")
        self.clear()
        self.record(SUPERVISOR, os.getpid())
        return stopped

    def _read(self) -> list[dict[str, object]]:
        try:
            entries: list[dict[str, object]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return entries


def _same_process(entry: dict[str, object]) -> psutil.Process | None:
    pid, started = entry.get("pid"), entry.get("started")
    if not isinstance(pid, int) or not isinstance(started, float):
        return None
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) < 1 and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except psutil.Error:
        pass
    return None
