"""The system under measurement: the real stack (embedded or given PostgreSQL, an in-memory Temporal dev
server, sandbox gateway, worker, API) on free ports, plus the baseline's bare worker, and a sampler of the
engine worker's memory."""

from __future__ import annotations

import io
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console

from devstack import commands as stack_commands
from devstack.config import StackSettings
from devstack.process import ChildProcess
from devstack.ready import ChildDied
from devstack.stack import DevStack
from devstack.view import StackView
from infra.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RssSampler:
    """Peak resident memory of one process and its children, sampled in a background thread."""

    pid: int
    interval: float = 0.25
    peak_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.wait(self.interval):
            try:
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            except psutil.Error:
                return
            self.peak_bytes = max(self.peak_bytes, rss)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class CpuMeter:
    """CPU seconds (user + system) each component has used, its child processes included; the difference
    across a phase, divided by the periods it ran, says where a period's cost goes."""

    pids: dict[str, int]

    def read(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                root = psutil.Process(pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0.0
            for process in processes:
                with suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
            used[name] = total
        return used


@dataclass
class System:
    api_url: str
    temporal_address: str
    database_url: str
    admin_token: str
    user_token_secret: str
    task_queue: str
    mqtt_url: str
    payload_keys: str
    worker_rss: RssSampler
    cpu: CpuMeter


class StackFailed(Exception):
    """A process of the bench's stack died while starting. The message carries its log's last lines: the
    stack's files go with the bench's temporary directory."""


@contextmanager
def running_system(
    data_dir: Path,
    *,
    database_url: str | None,
    temporal_address: str | None,
    timer_shift_ms: int | None = None,
) -> Iterator[System]:
    stack = StackSettings(
        data_dir=data_dir,
        api_port=free_port(),
        gateway_port=free_port(),
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        worker_metrics_port=free_port(),
        worker_sdk_metrics_port=free_port(),
        dispatcher_metrics_port=free_port(),
        external_database_url=database_url,
        external_temporal_address=temporal_address,
        seed_demo=False,
        temporal_in_memory=True,
        temporal_timer_shift_ms=timer_shift_ms,
    )
    app = Settings()
    dev = DevStack(stack, app, StackView(Console(file=io.StringIO())), threading.Event())
    baseline: ChildProcess | None = None
    sampler: RssSampler | None = None
    try:
        try:
            dev.start()
        except ChildDied as died:
            tail = "\n".join(died.child.log_tail()) or "(its log is empty)"
            raise StackFailed(
                f"{died} while the bench started it; the last lines of its log:\n{tail}"
            ) from None
        assert dev.databases is not None
        env = stack_commands.child_env(
            stack=stack,
            database_url=dev.databases.app_url,
            admin_token=app.admin_token.get_secret_value(),
            user_token_secret=app.user_token_secret.get_secret_value(),
            payload_keys=dev.payload_keys or "",
        )
        baseline = ChildProcess(
            name="baseline-worker",
            argv=[sys.executable, "-m", "bench.worker"],
            log_path=stack.log_dir / "baseline-worker.log",
            env=env,
            cwd=stack_commands.PROJECT_ROOT,
        )
        baseline.start()
        worker = next(c for c in dev.children if c.name == "worker")
        assert worker.pid is not None
        pids = {c.name: c.pid for c in [*dev.children, baseline] if c.pid is not None}
        postmaster = dev.databases.postmaster()
        if postmaster is not None:
            pids["postgres"] = postmaster.pid
        sampler = RssSampler(worker.pid)
        sampler.start()
        try:
            yield System(
                api_url=stack.api_url,
                temporal_address=stack.temporal_address,
                database_url=dev.databases.app_url,
                admin_token=app.admin_token.get_secret_value(),
                user_token_secret=app.user_token_secret.get_secret_value(),
                task_queue=app.task_queue,
                mqtt_url=dev.mqtt_url,
                payload_keys=dev.payload_keys or "",
                worker_rss=sampler,
                cpu=CpuMeter(pids),
            )
        except Exception:
            # Whatever failed may show in a process's log, and the logs go with the temporary directory.
            _print_log_tails([*dev.children, baseline])
            raise
    finally:
        if sampler is not None:
            sampler.stop()
        if baseline is not None:
            baseline.stop()
        dev.shutdown()


def _print_log_tails(children: list[ChildProcess], lines: int = 15) -> None:
    for child in children:
        tail = child.log_tail(lines)
        print(f"bench: the last lines of {child.name}'s log:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in tail) or "  (empty)", file=sys.stderr)
