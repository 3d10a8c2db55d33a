"""The system under measurement: the real stack (embedded or given PostgreSQL, an in-memory Temporal dev
server, sandbox gateway, worker, API) on free ports, plus the baseline's bare worker, and a sampler of the
engine worker's memory."""

from __future__ import annotations

import asyncio
import io
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
from rich.console import Console

from devstack import commands as stack_commands
from devstack.config import StackSettings
from devstack.process import ChildProcess
from devstack.ready import ChildDied, worker_polling
from devstack.stack import DevStack
from devstack.view import StackView
from infra.settings import Settings

BASELINE_WORKER = "baseline-worker"


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

    def follow(self, pid: int) -> None:
        """Sample another process from now on (a restarted worker); the peak so far stays."""
        self.pid = pid

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.wait(self.interval):
            try:
                if process.pid != self.pid:
                    process = psutil.Process(self.pid)
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            except psutil.Error:
                continue  # between a restart's stop and its start
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
    temporal_namespace: str
    database_url: str
    admin_token: str
    user_token_secret: str
    task_queue: str
    payload_keys: str
    mqtt_url: str
    worker_rss: RssSampler
    cpu: CpuMeter
    # Where the stack's children log, the environment they were started with, and every child, so a phase
    # can restart one (the month-start burst) or add one (a bare API, a webhook receiver).
    log_dir: Path
    env: dict[str, str]
    children: dict[str, ChildProcess]
    # The Temporal dev server's database file, when it keeps one (`--persist-temporal`).
    temporal_db: Path | None = None

    def spawn(self, name: str, argv: list[str], *, env: dict[str, str] | None = None) -> ChildProcess:
        """Start one more process beside the stack; it is stopped with the stack."""
        child = ChildProcess(
            name=name,
            argv=argv,
            log_path=self.log_dir / f"{name}.log",
            env={**self.env, **(env or {})},
            cwd=stack_commands.PROJECT_ROOT,
        )
        child.start()
        self.children[name] = child
        if child.pid is not None:
            self.cpu.pids[name] = child.pid
        return child

    def stop(self, name: str) -> None:
        self.children.pop(name).stop()
        self.cpu.pids.pop(name, None)

    def restart(self, name: str, *, stopped: Callable[[], None] | None = None) -> ChildProcess:
        """Stop a child, call `stopped`, then start it again as it was; the CPU meter and the worker's memory
        sampler follow the new process."""
        old = self.children.pop(name)
        old.stop()
        if stopped is not None:
            stopped()
        child = replace(old, _process=None)
        child.start()
        self.children[name] = child
        assert child.pid is not None
        self.cpu.pids[name] = child.pid
        if name == "worker":
            self.worker_rss.follow(child.pid)
        return child


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
    persist_temporal: bool = False,
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
        temporal_in_memory=not persist_temporal,
        temporal_timer_shift_ms=timer_shift_ms,
    )
    app = Settings()
    dev = DevStack(stack, app, StackView(Console(file=io.StringIO())), threading.Event())
    system: System | None = None
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
        worker = next(c for c in dev.children if c.name == "worker")
        assert worker.pid is not None
        children = {c.name: c for c in dev.children}
        pids = {c.name: c.pid for c in dev.children if c.pid is not None}
        postmaster = dev.databases.postmaster()
        if postmaster is not None:
            pids["postgres"] = postmaster.pid
        sampler = RssSampler(worker.pid)
        sampler.start()
        system = System(
            api_url=stack.api_url,
            temporal_address=stack.temporal_address,
            temporal_namespace=app.temporal_namespace,
            database_url=dev.databases.app_url,
            admin_token=app.admin_token.get_secret_value(),
            user_token_secret=app.user_token_secret.get_secret_value(),
            task_queue=app.task_queue,
            payload_keys=dev.payload_keys or "",
            mqtt_url=dev.mqtt_url,
            worker_rss=sampler,
            cpu=CpuMeter(pids),
            log_dir=stack.log_dir,
            env=env,
            children=children,
            temporal_db=None if not persist_temporal else stack.data_dir.resolve() / "temporal.db",
        )
        extras = system.children
        system.spawn(BASELINE_WORKER, [sys.executable, "-m", "bench.worker"])
        try:
            yield system
        except Exception:
            # Whatever failed may show in a process's log, and the logs go with the temporary directory.
            _print_log_tails(list(extras.values()))
            raise
    finally:
        if sampler is not None:
            sampler.stop()
        if system is not None:
            # The bench's own processes; the stack's go with dev.shutdown, in its order.
            for name, child in list(system.children.items()):
                if all(child is not started for started in dev.children):
                    child.stop()
                    system.children.pop(name)
        dev.shutdown()


def _print_log_tails(children: list[ChildProcess], lines: int = 15) -> None:
    for child in children:
        tail = child.log_tail(lines)
        print(f"bench: the last lines of {child.name}'s log:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in tail) or "  (empty)", file=sys.stderr)


async def until_polling(system: System, worker: ChildProcess, task_queue: str) -> None:
    """Return once the worker process polls the task queue."""
    polling = worker_polling(system.temporal_address, system.temporal_namespace, task_queue, worker)
    while not await asyncio.to_thread(polling):
        if worker.returncode is not None:
            raise RuntimeError(f"{worker.name} exited while starting: {worker.log_tail(10)}")
        await asyncio.sleep(0.1)
