"""One supervised child process of the dev stack: its own session (so a terminal's Ctrl-C reaches only the
supervisor, which then stops children in order), output to a log file, a polite stop, then a hard one, and
a SIGTERM from the kernel should the supervisor die without stopping it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from devstack.parent_death import guarded


@dataclass
class ChildProcess:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    cwd: Path
    stop_timeout: float = 15.0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append: the log of an earlier run stays readable after a restart.
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                guarded(self.argv),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """None while running (or never started); the exit status once it has exited."""
        return None if self._process is None else self._process.poll()

    def stop(self) -> str:
        """SIGTERM, wait, then SIGKILL the whole process group; say how it ended."""
        process = self._process
        if process is None:
            return "not started"
        if process.poll() is not None:
            self._kill_group()
            return f"had exited ({exit_status(process.returncode)})"
        process.send_signal(signal.SIGTERM)
        try:
            outcome = f"stopped ({exit_status(process.wait(timeout=self.stop_timeout))})"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            outcome = f"killed after {self.stop_timeout:.0f}s"
        self._kill_group()
        return outcome

    def log_tail(self, lines: int = 20) -> list[str]:
        if not self.log_path.exists():
            return []
        with self.log_path.open(errors="replace") as log:
            return [line.rstrip("\n") for line in deque(log, maxlen=lines)]

    def _kill_group(self) -> None:
        # Anything the child left behind in its session goes with it.
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)


def exit_status(code: int) -> str:
    """`exit 0`, `exit 3`, or the signal's name (uvicorn re-raises SIGTERM after a clean shutdown)."""
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return "exit 0" if code == 0 else f"exit {code}"
