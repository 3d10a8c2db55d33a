"""Real subprocesses for fault injection: started with their output in a log file, killed for real, and
their log tails at hand when a test fails."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TAIL_LINES = 40


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without our settings (a developer's DATABASE_URL must not leak in)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("IOT_BILLING_", "SANDBOX_GATEWAY_"))
        and name not in {"DATABASE_URL", "TEMPORAL_ADDRESS"}
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    # Several workers run at once here: none serves /metrics, whose fixed default ports they would share.
    for name in ("WORKER_METRICS_PORT", "WORKER_SDK_METRICS_PORT", "DISPATCHER_METRICS_PORT"):
        env[f"IOT_BILLING_{name}"] = ""
    return env | overrides


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(text) + f"\n(full log: {path})"


@dataclass
class LogRegistry:
    """Every log a test's processes write; the conftest hook prints their tails when the test fails."""

    directory: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.paths.setdefault(name, self.directory / f"{name}.log")

    def add(self, name: str, path: Path) -> None:
        self.paths[name] = path

    def tails(self) -> list[tuple[str, str]]:
        return [(name, tail(path)) for name, path in self.paths.items()]


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} was never started"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        # Appending keeps the earlier run's output when a test restarts the process.
        with self.log_path.open("ab") as log:
            log.write(f"--- start: {' '.join(self.command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_for_output(self, marker: str, *, within: float, since: int = 0) -> None:
        """Until `marker` appears in the log after byte offset `since`; fails early if the process exits."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if marker.encode() in self.log_path.read_bytes()[since:]:
                return
            if not self.running:
                raise AssertionError(f"{self.name} exited before {marker!r}:\n{tail(self.log_path)}")
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no {marker!r} within {within}s:\n{tail(self.log_path)}")

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or finished."""
        self._signal(signal.SIGKILL, timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        self._signal(signal.SIGTERM, timeout=timeout)

    def _signal(self, sig: signal.Signals, *, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with self.log_path.open("ab") as log:
            log.write(f"--- test sent {sig.name}\n".encode())
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
