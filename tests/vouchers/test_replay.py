"""Committed voucher lifecycle histories replay against today's workflow code (non-determinism fails here).

Record them with IOT_BILLING_RECORD_HISTORIES=<version> pytest tests/vouchers/test_lifecycle.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from infra.workflow_runner import workflow_runner
from tests.vouchers.lifecycle_support import HISTORIES
from workflows.voucher_lifecycle import VoucherLifecycleWorkflow

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_histories_are_committed() -> None:
    assert len(RECORDED) >= 2, "record them: see this module's docstring"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_committed_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=[VoucherLifecycleWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(pydantic_data_converter),
    )
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
