"""The worker's heap after start-up: what is loaded then (modules, classes, the SDK, the ORM) lives as long
as the process, so the cyclic garbage collector stops looking at it.

Every full collection traverses every tracked object, and signups allocate enough (each workflow run
imports its module afresh in the sandbox) to trigger full collections often under load: objects that live
forever only make each of them slower. Collection thresholds stay Python's own: raising them kept evicted
workflow runs' garbage longer, and the worker's peak memory rose (docs/benchmarks.md)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then move every surviving object out of the collector's sight.
    Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
