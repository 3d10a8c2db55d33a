"""The slowest tests of the suite: the whole system started as a user starts it (`iot-billing up`, the
README's run command), driven through HTTP only, then stopped with SIGTERM. Each starts an embedded
PostgreSQL, a Temporal dev server, the sandbox gateway, a worker and the API: tens of seconds per start."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from devstack.demo import DEMO_PRODUCTS, DEMO_USER
from infra.temporal import temporal_cli_path
from tests.devices.support import retained
from tests.e2e.stack import (
    ADMIN_TOKEN,
    RunningStack,
    eventually,
    is_postgres,
    register_devices,
    still_alive,
    subscribe,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_subscribe_see_entitled_cancel_find_in_temporal_then_sigterm(stack: RunningStack) -> None:
    stack.start_ready()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    # The banner's demo-user token is the one a newcomer pastes: use it.
    user = {"Authorization": f"Bearer {stack.printed(f'User JWT ({DEMO_USER})')}"}
    assert f"Admin token: {ADMIN_TOKEN}" in stack.output
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        names = {product["name"] for product in http.get("/v1/products", headers=admin).json()}
        assert {product.name for product in DEMO_PRODUCTS} <= names

        created = http.post(
            "/v1/products",
            headers=admin,
            json={
                "name": f"e2e camera storage {uuid.uuid4().hex[:6]}",
                "resource_type": "cloud_video_storage",
                "billing_cycle": "P1M",
                "unit_price": {"amount_minor": 1500, "currency": "CNY"},
                "max_devices": 3,
            },
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]
        devices = register_devices(http, 2)
        signup = subscribe(http, user, product_id, devices, "sandbox_ok")
        assert signup.status_code == 201, signup.text
        subscription = signup.json()
        assert subscription["status"] == "active", subscription

        for device_id in devices:

            def entitled(device_id: str = device_id) -> list[dict[str, Any]]:
                answer = http.get(f"/v1/devices/{device_id}/entitlements", headers=user)
                assert answer.status_code == 200, answer.text
                rows: list[dict[str, Any]] = answer.json()["entitlements"]
                return [row for row in rows if row["subscription_id"] == subscription["id"]]

            eventually(entitled, what=f"an entitlement on {device_id}")
        # The banner's broker: each device finds its state retained there, open.
        broker = _printed_broker(stack.output)
        eventually(
            lambda: _device_statuses(broker, devices) == {d: ["open"] for d in devices}, what="open states"
        )

        canceled = http.post(
            f"/v1/subscriptions/{subscription['id']}/cancel", headers=user, json={"mode": "immediately"}
        )
        assert canceled.status_code == 200, canceled.text

        def status() -> str | None:
            state = http.get(f"/v1/subscriptions/{subscription['id']}", headers=user).json()
            return "canceled" if state["status"] == "canceled" else None

        eventually(status, what="the subscription canceled")
        revoked = {d: ["revoked"] for d in devices}
        eventually(lambda: _device_statuses(broker, devices) == revoked, what="revoked states")

    workflow_id = f"subscription-{subscription['id']}"
    listed = eventually(
        lambda: workflow_ids(stack.temporal_address, f"UserId='{DEMO_USER}'") & {workflow_id},
        what=f"{workflow_id} in `temporal workflow list`",
    )
    assert listed == {workflow_id}

    children = stack.processes()
    assert len(children) >= 7, children  # temporal, gateway, worker, api, postgres, mqtt, publisher
    assert stack.terminate() == 0, stack.report()
    assert still_alive(children) == []
    assert "stopping" in stack.output


def _printed_broker(output: str) -> str:
    """The broker URL of the banner's ready-to-paste simulator command."""
    (line,) = [line for line in output.splitlines() if line.startswith("iot-billing device ")]
    return line.split("--mqtt-url ", 1)[1].strip()


def _device_statuses(broker: str, devices: list[str]) -> dict[str, list[str]]:
    states = asyncio.run(retained(broker, "iot-billing", devices, within=2.0))
    return {d: [e.status.value for e in s.entitlements] for d, s in states.items()}


def test_a_killed_stack_leaves_no_child_and_the_next_start_seeds_nothing_twice(
    stack: RunningStack,
) -> None:
    stack.start_ready()
    first_run = stack.processes()
    assert stack.process is not None
    stack.process.kill()  # no chance to stop its children: the kernel's parent-death signal does
    stack.process.wait()

    # Only the embedded PostgreSQL lives on (pg_ctl daemonises it): the next run takes it over.
    assert [p for p in still_alive(first_run, timeout=10) if not is_postgres(p)] == []
    stack.start_ready()
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        products = http.get("/v1/products", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert sorted(p["name"] for p in products) == sorted(p.name for p in DEMO_PRODUCTS)

    children = stack.processes()
    worker = next(p for p in children if "worker" in p.cmdline())
    worker.kill()
    assert stack.wait_exit() == 1, stack.report()
    assert "worker exited (SIGKILL)" in stack.output
    assert still_alive(children + first_run) == []


def test_a_busy_port_is_named_before_anything_starts(stack: RunningStack) -> None:
    with port_held(stack.ports.api):
        stack.start()
        assert stack.wait_exit(timeout=60) == 1, stack.report()
    # This test's own process holds it, and the message says so.
    # The console wraps long lines wherever the holder's command line makes them break.
    output = " ".join(stack.output.split())
    assert f"API port {stack.ports.api} is in use by " in output
    assert f"(pid {os.getpid()}: " in output
    assert "(set IOT_BILLING_API_PORT)" in output
    assert not (stack.data_dir / "pg").exists()


def workflow_ids(address: str, query: str) -> set[str]:
    listed = subprocess.run(
        [temporal_cli_path(), "workflow", "list", "--address", address, "--query", query, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = json.loads(listed.stdout or "[]")
    return {row["execution"]["workflowId"] for row in rows}


@contextmanager
def port_held(port: int) -> Iterator[None]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", port))
        held.listen()
        yield
