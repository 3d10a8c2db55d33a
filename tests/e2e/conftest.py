"""The stack a test starts, killed whatever the test's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Ports, RunningStack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    running = RunningStack(data_dir=tmp_path / "data", ports=Ports.free(), output_path=tmp_path / "up.out")
    try:
        yield running
    finally:
        running.kill_everything()
