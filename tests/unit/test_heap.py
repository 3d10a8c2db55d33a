"""Freezing the start-up heap: what exists then is out of the collector's sight, what comes later is not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from infra.heap import freeze_startup_heap


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_after")
def test_objects_alive_at_start_up_are_frozen_and_later_ones_are_not() -> None:
    at_start_up = {"kept": ["for the life of the process"]}
    before = gc.get_freeze_count()

    frozen = freeze_startup_heap()

    later = {"made": ["after start-up"]}
    assert frozen > before
    assert frozen == gc.get_freeze_count()
    tracked = {id(o) for o in gc.get_objects()}
    assert id(at_start_up) not in tracked
    assert id(later) in tracked


@pytest.mark.usefixtures("unfrozen_after")
def test_garbage_left_by_start_up_is_collected_not_frozen() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    gone = weakref.ref(Node())  # a cycle no one refers to: only the collector frees it

    freeze_startup_heap()

    assert gone() is None
