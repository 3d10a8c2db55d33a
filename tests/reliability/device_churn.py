"""A reproducible mix of device changes for one subscription — `device_added`/`device_removed` signals and
`change_devices` updates, some of them invalid on purpose — and the group each prefix of it leads to.

`step` is the rule the workflow follows: signals change the group (a no-op when already so), an update is
all or nothing and refused when it removes a device not in the group, adds one already in it, or would
exceed the product's device limit."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class Change(StrEnum):
    SIGNAL_ADD = "signal_add"
    SIGNAL_REMOVE = "signal_remove"
    UPDATE = "update"


@dataclass(frozen=True)
class Operation:
    change: Change
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def step(group: frozenset[str], op: Operation, *, max_devices: int) -> tuple[frozenset[str], bool]:
    """The group after `op`, and whether the workflow accepts it."""
    if op.change is Change.SIGNAL_ADD:
        return group | set(op.add), True
    if op.change is Change.SIGNAL_REMOVE:
        return group - set(op.remove), True
    if not set(op.remove) <= group:
        return group, False
    after = group - set(op.remove)
    if after & set(op.add) or len(after) + len(op.add) > max_devices:
        return group, False
    return after | set(op.add), True


def replay(
    initial: tuple[str, ...], ops: list[Operation], *, max_devices: int
) -> tuple[frozenset[str], list[bool]]:
    """The final group, and for each update in order whether it is accepted."""
    group = frozenset(initial)
    accepted: list[bool] = []
    for op in ops:
        group, ok = step(group, op, max_devices=max_devices)
        if op.change is Change.UPDATE:
            accepted.append(ok)
    return group, accepted


def _valid_update(rng: random.Random, inside: list[str], outside: list[str], max_devices: int) -> Operation:
    # Keep at least one device, and leave room to add one when nothing is removed.
    remove = rng.sample(inside, rng.randint(1 if len(inside) == max_devices else 0, len(inside) - 1))
    room = max_devices - (len(inside) - len(remove))
    add = rng.sample(outside, rng.randint(0 if remove else 1, min(room, len(outside))))
    return Operation(Change.UPDATE, add=tuple(add), remove=tuple(remove))


def _invalid_update(rng: random.Random, inside: list[str], outside: list[str], max_devices: int) -> Operation:
    kind = rng.choice(("remove_absent", "add_present", "too_many"))
    if kind == "remove_absent":
        return Operation(Change.UPDATE, remove=(rng.choice(outside),))
    if kind == "add_present":
        return Operation(Change.UPDATE, add=(rng.choice(inside), rng.choice(outside)))
    return Operation(Change.UPDATE, add=tuple(outside[: max_devices - len(inside) + 1]))


def generate(
    rng: random.Random, pool: tuple[str, ...], initial: tuple[str, ...], count: int, *, max_devices: int
) -> list[Operation]:
    """`count` operations that never leave the group empty nor over the limit (the refused updates aside),
    with no-op signals and refused updates mixed in."""
    assert len(pool) > max_devices, "the pool must allow updates that exceed the limit"
    group = frozenset(initial)
    ops: list[Operation] = []
    for _ in range(count):
        inside, outside = sorted(group), sorted(set(pool) - group)
        roll = rng.random()
        if roll < 0.35:
            can_grow = len(group) < max_devices
            op = Operation(Change.SIGNAL_ADD, add=(rng.choice(outside if can_grow else inside),))
        elif roll < 0.7:
            can_shrink = len(group) > 1
            op = Operation(Change.SIGNAL_REMOVE, remove=(rng.choice(inside if can_shrink else outside),))
        elif roll < 0.9:
            op = _valid_update(rng, inside, outside, max_devices)
        else:
            op = _invalid_update(rng, inside, outside, max_devices)
        group, _ = step(group, op, max_devices=max_devices)
        ops.append(op)
    return ops
