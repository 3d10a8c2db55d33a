"""`iot-billing up`: the whole system on one machine with nothing but Python — embedded PostgreSQL, the
Temporal dev server and UI, migrations, the sandbox gateway, the worker and the API, demo data — supervised
until Ctrl-C or SIGTERM, then stopped in reverse order."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import httpx
from pydantic import ValidationError
from temporalio.service import RPCError

from devstack import commands
from devstack.broker import embedded_broker_command, free_port, subscribe_commands
from devstack.config import StackSettings
from devstack.db import Databases, prepare_databases
from devstack.demo import DEMO_USER, DemoCatalog, demo_user_token, seed_demo, subscription_curl
from devstack.leftovers import DataDirInUse, PidFile
from devstack.payload_keys import dev_payload_keys
from devstack.process import ChildProcess
from devstack.ready import (
    ChildDied,
    NotReady,
    StopRequested,
    http_ok,
    port_holder,
    port_in_use,
    temporal_serving,
    wait_until,
    worker_polling,
)
from devstack.view import Banner, StackView
from infra.mqtt import MqttTarget
from infra.settings import Settings
from infra.temporal import connect, register_search_attributes
from models.device_state import device_topic
from workflows import search_attributes

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The worker lets in-flight activities finish (workers/main.py allows them 20 s).
WORKER_STOP_SECONDS = 25.0
# The dispatcher finishes the sends in flight, each bounded by the webhook timeout.
DISPATCHER_STOP_SECONDS = 15.0
SUPERVISE_SECONDS = 0.5


class PostgresDied(Exception):
    pass


class DevStack:
    def __init__(self, stack: StackSettings, app: Settings, view: StackView, stop: threading.Event) -> None:
        self.stack = stack
        self.app = app
        self.view = view
        self.stop = stop
        self.children: list[ChildProcess] = []
        self.databases: Databases | None = None
        self.pids = PidFile(stack.data_dir / "processes.json")
        self.claimed = False
        # Generated lazily in start(): a stack refused for a busy data dir writes nothing into it.
        self.payload_keys: str | None = None
        self.mqtt_url = ""
        self.mqtt_display = ""

    def start(self) -> Banner:
        stack, view = self.stack, self.view
        stack.log_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.pids.claim():
            view.note(f"stopped {leftover}, left running by an earlier run")
        self.claimed = True
        self._check_ports()
        self.payload_keys = self._payload_keys()
        temporal = self._start_temporal()
        with view.step("starting PostgreSQL and migrating"):
            self.databases = databases = prepare_databases(stack)
        where = "embedded" if databases.embedded else "DATABASE_URL"
        view.ready("postgres", f"{where}, databases migrated", databases.log_path)
        if databases.note:
            view.note(databases.note)
        self._interrupted()
        mqtt_url, embedded_broker = self._start_broker()
        env = commands.child_env(
            stack=stack,
            database_url=databases.app_url,
            admin_token=self.app.admin_token.get_secret_value(),
            user_token_secret=self.app.user_token_secret.get_secret_value(),
            payload_keys=self.payload_keys,
            mqtt_url=mqtt_url,
        )
        gateway = self._spawn(
            "gateway", commands.sandbox_gateway(stack, database_url=databases.sandbox_url), env
        )
        self._await_temporal(temporal)
        worker = self._spawn("worker", commands.worker(), env, stop_timeout=WORKER_STOP_SECONDS)
        dispatcher = self._spawn(
            "dispatcher", commands.dispatcher(), env, stop_timeout=DISPATCHER_STOP_SECONDS
        )
        # An embedded broker starts empty: every device's state is published to it again.
        publisher = self._spawn("publisher", commands.publisher(republish=embedded_broker), env)
        api = self._spawn("api", commands.api(stack), env)
        with view.step("starting the sandbox payment gateway"):
            self._wait(http_ok(f"{stack.gateway_url}/healthz"), what="sandbox gateway", watch=gateway)
        view.ready("gateway", stack.gateway_url, gateway.log_path)
        with view.step("waiting for the worker to poll"):
            polling = worker_polling(
                stack.temporal_address, self.app.temporal_namespace, self.app.task_queue, worker
            )
            self._wait(polling, what="worker", watch=worker)
        view.ready("worker", f"polling task queue {self.app.task_queue}", worker.log_path)
        with view.step("starting the API"):
            self._wait(http_ok(f"{stack.api_url}/readyz"), what="API /readyz", watch=api)
        view.ready("api", stack.api_url, api.log_path)
        with view.step("starting the webhook dispatcher"):
            self._wait(
                _logged(dispatcher.log_path, "dispatcher started"), what="dispatcher", watch=dispatcher
            )
        view.ready("dispatcher", "delivering webhooks", dispatcher.log_path)
        with view.step("starting the device publisher"):
            self._wait(_logged(publisher.log_path, "publisher started"), what="publisher", watch=publisher)
        view.ready("publisher", f"device states to {self.mqtt_display}", publisher.log_path)
        return self._banner(self._seed())

    def supervise(self) -> None:
        """Return when a stop is requested; raise when a child (or the embedded PostgreSQL) dies."""
        while not self.stop.is_set():
            for child in self.children:
                if child.returncode is not None:
                    raise ChildDied(child)
            if self.databases is not None and not self.databases.running():
                raise PostgresDied("the embedded PostgreSQL stopped")
            self.stop.wait(SUPERVISE_SECONDS)

    def shutdown(self) -> None:
        try:
            for child in reversed(self.children):
                self.view.stopped(child.name, child.stop())
        finally:
            if self.databases is not None and self.databases.embedded is not None:
                self.databases.stop()
                self.view.stopped("postgres", "stopped")
        if self.claimed:
            self.pids.clear()

    def _check_ports(self) -> None:
        stack = self.stack
        ports = {"API": (stack.api_host, stack.api_port, "IOT_BILLING_API_PORT")}
        ports["gateway"] = (stack.gateway_host, stack.gateway_port, "IOT_BILLING_GATEWAY_PORT")
        for name, port in (
            ("worker_metrics", stack.worker_metrics_port),
            ("worker_sdk_metrics", stack.worker_sdk_metrics_port),
            ("dispatcher_metrics", stack.dispatcher_metrics_port),
        ):
            ports[name.replace("_", " ")] = (stack.metrics_host, port, f"IOT_BILLING_{name.upper()}_PORT")
        if not stack.external_temporal_address:
            ports["Temporal"] = (stack.temporal_ip, stack.temporal_port, "IOT_BILLING_TEMPORAL_PORT")
            ports["Temporal UI"] = (stack.temporal_ip, stack.temporal_ui_port, "IOT_BILLING_TEMPORAL_UI_PORT")
        busy = [
            f"{name} port {port} is in use{_held_by(port)} (set {variable})"
            for name, (host, port, variable) in ports.items()
            if port_in_use(host, port)
        ]
        if busy:
            raise NotReady("; ".join(busy))

    def _start_broker(self) -> tuple[str, bool]:
        """The broker's URL, and whether it is ours (embedded) rather than IOT_BILLING_MQTT_URL's."""
        stack = self.stack
        if stack.external_mqtt_url:
            self.mqtt_url = stack.external_mqtt_url
            self.mqtt_display = MqttTarget.parse(stack.external_mqtt_url).display
            self.view.ready("mqtt", f"IOT_BILLING_MQTT_URL {self.mqtt_display}")
            return stack.external_mqtt_url, False
        port = free_port(stack.mqtt_host)
        url = f"mqtt://{stack.mqtt_host}:{port}"
        argv = embedded_broker_command(stack.data_dir / "mqtt", host=stack.mqtt_host, port=port)
        broker = self._spawn("mqtt", argv, None)
        with self.view.step("starting the embedded MQTT broker"):
            self._wait(lambda: port_in_use(stack.mqtt_host, port), what="MQTT broker", watch=broker)
        self.mqtt_url = self.mqtt_display = url
        self.view.ready("mqtt", f"embedded broker (amqtt) {url}", broker.log_path)
        return url, True

    def _start_temporal(self) -> ChildProcess | None:
        # Started first: it needs a few seconds, PostgreSQL and migrations run meanwhile.
        if self.stack.external_temporal_address:
            return None
        command = commands.temporal_dev_server(self.stack, namespace=self.app.temporal_namespace)
        return self._spawn("temporal", command, None)

    def _await_temporal(self, temporal: ChildProcess | None) -> None:
        stack, namespace = self.stack, self.app.temporal_namespace
        with self.view.step("starting the Temporal dev server"):
            self._wait(temporal_serving(stack.temporal_address, namespace), what="Temporal", watch=temporal)
        if temporal is None:
            self._register_search_attributes()
        detail = stack.temporal_address + (f", UI {stack.temporal_ui_url}" if stack.temporal_ui_url else "")
        self.view.ready("temporal", detail, temporal.log_path if temporal else None)

    def _register_search_attributes(self) -> None:
        # A server we did not start may not know our search attributes yet.
        async def register() -> None:
            client = await connect(self.stack.temporal_address, self.app.temporal_namespace, codec=None)
            await register_search_attributes(client, search_attributes.ALL, self.app.temporal_namespace)

        try:
            asyncio.run(register())
        except RPCError as error:
            self.view.note(f"could not register search attributes: {error}")

    def _payload_keys(self) -> str:
        configured = self.app.payload_keys
        if configured is not None:
            return configured.get_secret_value()
        return dev_payload_keys(self.stack.data_dir)

    def _seed(self) -> DemoCatalog | None:
        if not self.stack.seed_demo:
            return None
        try:
            with (
                self.view.step("seeding demo data"),
                httpx.Client(base_url=self.stack.api_url, timeout=10) as client,
            ):
                catalog = seed_demo(client, admin_token=self.app.admin_token.get_secret_value())
        except (httpx.HTTPError, KeyError, ValueError) as error:
            # The system runs without the demo catalog; say so rather than stop it.
            self.view.note(f"demo data not seeded: {error}")
            return None
        self.view.ready(
            "demo", f"{len(catalog.product_ids)} products, devices {', '.join(catalog.device_ids)}"
        )
        return catalog

    def _banner(self, catalog: DemoCatalog | None) -> Banner:
        stack = self.stack
        user_token = demo_user_token(self.app.user_token_secret.get_secret_value(), DEMO_USER)
        curl = None
        if catalog is not None:
            curl = subscription_curl(
                api_url=stack.api_url,
                user_token=user_token,
                product_id=catalog.product_ids["PT1M"],
                device_ids=catalog.device_ids[:2],
            )
        return Banner(
            api_url=stack.api_url,
            temporal_address=stack.temporal_address,
            temporal_ui_url=stack.temporal_ui_url,
            admin_token=self.app.admin_token.get_secret_value(),
            user_id=DEMO_USER,
            user_token=user_token,
            curl=curl,
            log_dir=stack.log_dir,
            webhooks="dispatcher running; watch events with `iot-billing listen`",
            metrics=stack.metrics_urls(),
            mqtt_url=self.mqtt_display,
            subscribe=subscribe_commands(
                self.mqtt_display,
                device_topic(self.app.mqtt_topic_prefix, "+"),
                catalog.device_ids[0] if catalog else "DEVICE_ID",
            ),
        )

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None, *, stop_timeout: float | None = None
    ) -> ChildProcess:
        self._interrupted()
        child = ChildProcess(
            name=name,
            argv=argv,
            log_path=self.stack.log_dir / f"{name}.log",
            env=env if env is not None else commands.inherited_env(),
            cwd=commands.PROJECT_ROOT,
            stop_timeout=stop_timeout or self.stack.stop_timeout_seconds,
        )
        child.start()
        self.children.append(child)
        if child.pid is not None:
            self.pids.record(name, child.pid)
        return child

    def _wait(self, check: Callable[[], bool], *, what: str, watch: ChildProcess | None) -> None:
        wait_until(check, what=what, timeout=self.stack.startup_timeout_seconds, stop=self.stop, watch=watch)

    def _interrupted(self) -> None:
        if self.stop.is_set():
            raise StopRequested


def run_stack(stack: StackSettings, *, view: StackView | None = None) -> int:
    """Start, supervise, stop; 0 after Ctrl-C/SIGTERM, 1 when something failed or died."""
    view = view or StackView()
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            system = DevStack(stack, Settings(), view, stop)
        except ValidationError as error:
            view.failed(f"invalid settings: {error}")
            return 1
        try:
            view.banner(system.start())
            system.supervise()
            return 0
        except StopRequested:
            return 0
        except ChildDied as died:
            view.failed(str(died), died.child.log_tail(), died.child.log_path)
            return 1
        except PostgresDied as died:
            log = system.databases.log_path if system.databases else None
            view.failed(str(died), _tail(log), log)
            return 1
        except (NotReady, DataDirInUse) as error:
            view.failed(str(error))
            return 1
        except Exception as error:
            view.failed(f"start-up failed: {type(error).__name__}: {error}")
            view.traceback()
            return 1
        finally:
            view.stopping()
            system.shutdown()


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _logged(path: Path, marker: str) -> Callable[[], bool]:
    def check() -> bool:
        return path.exists() and marker in path.read_text(errors="replace")

    return check


def _held_by(port: int) -> str:
    holder = port_holder(port)
    return "" if holder is None else f" by {holder}"


def _tail(path: Path | None, lines: int = 20) -> list[str]:
    if path is None or not path.exists():
        return []
    return path.read_text(errors="replace").splitlines()[-lines:]
