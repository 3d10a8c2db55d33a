"""`iot-billing up` as a user starts it, in the background: a temp data dir, free ports, no DATABASE_URL or
TEMPORAL_ADDRESS (so the embedded PostgreSQL and the Temporal dev server are used). Every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from devstack.demo import DEMO_USER

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MARKER = "Press Ctrl-C to stop everything."
START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 90.0
WAIT_SECONDS = 30.0
ADMIN_TOKEN = "e2e-admin-token"
USER_TOKEN_SECRET = "e2e-user-token-secret-long-enough-for-hs256"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Ports:
    api: int
    gateway: int
    temporal: int
    temporal_ui: int
    worker_metrics: int
    worker_sdk_metrics: int
    dispatcher_metrics: int

    @classmethod
    def free(cls) -> Ports:
        return cls(
            api=free_port(),
            gateway=free_port(),
            temporal=free_port(),
            temporal_ui=free_port(),
            worker_metrics=free_port(),
            worker_sdk_metrics=free_port(),
            dispatcher_metrics=free_port(),
        )


@dataclass
class RunningStack:
    data_dir: Path
    ports: Ports
    output_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports.temporal}"

    @property
    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def start(self) -> None:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("IOT_BILLING_", "SANDBOX_GATEWAY_"))
            and name not in {"DATABASE_URL", "TEMPORAL_ADDRESS"}
        }
        env |= {
            "PYTHONPATH": str(REPO_ROOT),
            "IOT_BILLING_API_PORT": str(self.ports.api),
            "IOT_BILLING_GATEWAY_PORT": str(self.ports.gateway),
            "IOT_BILLING_TEMPORAL_PORT": str(self.ports.temporal),
            "IOT_BILLING_TEMPORAL_UI_PORT": str(self.ports.temporal_ui),
            "IOT_BILLING_WORKER_METRICS_PORT": str(self.ports.worker_metrics),
            "IOT_BILLING_WORKER_SDK_METRICS_PORT": str(self.ports.worker_sdk_metrics),
            "IOT_BILLING_DISPATCHER_METRICS_PORT": str(self.ports.dispatcher_metrics),
            "IOT_BILLING_ADMIN_TOKEN": ADMIN_TOKEN,
            "IOT_BILLING_USER_TOKEN_SECRET": USER_TOKEN_SECRET,
        }
        # The README's command is `make run` = `iot-billing up`; this is the same entry point.
        command = [sys.executable, "-m", "cli.main", "up", "--data-dir", str(self.data_dir)]
        with self.output_path.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def start_ready(self, attempts: int = 3) -> None:
        """Start and wait until ready. Other processes on this machine may take one of our free ports
        between the pick and the bind ("... in use"): then pick new ports and start again."""
        for attempt in range(1, attempts + 1):
            offset = len(self.output)
            self.start()
            try:
                self.wait_ready()
                return
            except AssertionError:
                if attempt == attempts or "in use" not in self.output[offset:]:
                    raise
                self.ports = Ports.free()

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        assert self.process is not None
        offset = len(self.output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_MARKER in self.output[offset:]:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"`iot-billing up` exited ({self.process.returncode}):\n{self.report()}")
            time.sleep(0.5)
        raise AssertionError(f"`iot-billing up` not ready after {timeout:.0f}s:\n{self.report()}")

    def printed(self, label: str) -> str:
        """The value printed after `label: ` in the banner (tokens are printed unwrapped)."""
        found = re.findall(rf"^{re.escape(label)}: (\S+)$", self.output, flags=re.MULTILINE)
        assert found, f"{label!r} not printed:\n{self.output}"
        return str(found[-1])

    def processes(self) -> list[psutil.Process]:
        """Everything this stack runs: the supervisor's descendants, and the embedded PostgreSQL (pg_ctl
        daemonises it, so it is no descendant) — anything whose command line names the data dir."""
        assert self.process is not None
        found = {p.pid: p for p in psutil.Process(self.process.pid).children(recursive=True)}
        for process in psutil.process_iter(["cmdline"]):
            if _names(process, self.data_dir):
                found[process.pid] = process
        found.pop(self.process.pid, None)
        return list(found.values())

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"`iot-billing up` still running after {timeout:.0f}s:\n{self.report()}"
            ) from None

    def kill_everything(self) -> None:
        """Last resort after a failed test: nothing may outlive it."""
        leftovers = self.processes() if self.process is not None and self.process.poll() is None else []
        leftovers += [p for p in psutil.process_iter(["cmdline"]) if _names(p, self.data_dir)]
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for process in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()

    def report(self) -> str:
        logs = []
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            logs.append(f"--- {log.name} (last lines)\n" + "\n".join(tail))
        return f"--- output\n{self.output}\n" + "\n".join(logs)


def eventually(probe: Callable[[], Any], *, what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll until `probe` returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen within {timeout:.0f}s; last: {last!r}")


def register_devices(http: httpx.Client, count: int) -> list[str]:
    """New devices of the demo user, registered through the admin API."""
    devices = [f"e2e-cam-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    for device_id in devices:
        registered = http.post(
            "/v1/devices",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"id": device_id, "owner_user_id": DEMO_USER},
        )
        assert registered.status_code == 201, registered.text
    return devices


def subscribe(
    http: httpx.Client, user: dict[str, str], product_id: str, devices: list[str], token: str
) -> httpx.Response:
    return http.post(
        "/v1/subscriptions",
        headers=user | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": product_id, "device_ids": devices, "payment": {"agreement_token": token}},
    )


def still_alive(processes: list[psutil.Process], timeout: float = 10.0) -> list[psutil.Process]:
    """The processes still running (zombies count as gone) once `timeout` has passed."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if _running(p)]


def is_postgres(process: psutil.Process) -> bool:
    try:
        return process.name().startswith("postgres")
    except psutil.NoSuchProcess:
        return False


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _names(process: psutil.Process, data_dir: Path) -> bool:
    return str(data_dir) in " ".join(process.info["cmdline"] or ())
