"""A process of the bench's stack that dies while starting is reported with the last lines of its log (the
stack's files go with the bench's temporary directory), and the bench exits 1 with nothing measured; a
failure while measuring prints the last lines of every process's log before they go."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from bench import run as bench_run
from cli.main import app
from devstack import commands as stack_commands
from devstack.config import StackSettings


def test_a_dev_server_dying_at_start_is_reported_with_its_log(
    monkeypatch: pytest.MonkeyPatch, database_url_for_test: str
) -> None:
    def dies_at_start(stack: StackSettings, *, namespace: str) -> list[str]:
        said = "listen tcp 127.0.0.1:7233: bind: address already in use"
        return [sys.executable, "-c", f"import sys; print({said!r}, file=sys.stderr); sys.exit(1)"]

    monkeypatch.setattr(stack_commands, "temporal_dev_server", dies_at_start)
    monkeypatch.setenv("DATABASE_URL", database_url_for_test)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)

    result = CliRunner().invoke(app, ["bench", "--rounds", "1"])

    assert result.exit_code == 1, result.output
    assert "bench: temporal exited (exit 1) while the bench started it" in result.stderr
    assert "address already in use" in result.stderr
    assert "iot-billing bench" not in result.stdout  # no table: nothing was measured


def test_a_failure_while_measuring_prints_the_last_lines_of_every_process_log(
    monkeypatch: pytest.MonkeyPatch, database_url_for_test: str
) -> None:
    async def fails(*_args: object) -> dict[str, float]:
        raise RuntimeError("the API answered 500 to a signup")

    monkeypatch.setattr(bench_run, "measure", fails)
    monkeypatch.setenv("DATABASE_URL", database_url_for_test)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)

    result = CliRunner().invoke(app, ["bench", "--rounds", "1"])

    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    for name in ("temporal", "gateway", "worker", "api", "baseline-worker"):
        assert f"bench: the last lines of {name}'s log:" in result.stderr
    assert "iot-billing bench" not in result.stdout
