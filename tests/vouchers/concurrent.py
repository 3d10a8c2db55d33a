"""Fire many database calls at once from threads that each hold their own PostgreSQL connection."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from vouchers.errors import VoucherError

T = TypeVar("T")


@dataclass(frozen=True)
class Burst:
    outcomes: Counter[str]
    elapsed: float

    @property
    def per_second(self) -> float:
        return sum(self.outcomes.values()) / self.elapsed


def burst(engine: Engine, *, threads: int, items: Sequence[T], call: Callable[[Session, T], object]) -> Burst:
    """Run `call(session, item)` for every item, one transaction each, spread over `threads` connections
    that all start together. Outcomes: "ok", a VoucherError code, or "error:<exception type>"."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)
    shares = [items[i::threads] for i in range(threads)]

    def work(share: Sequence[T]) -> None:
        with engine.connect() as connection:
            start.wait()
            for item in share:
                try:
                    # Bound to an idle connection, the session begins and commits its own transaction.
                    with Session(bind=connection) as session:
                        call(session, item)
                        session.commit()
                    outcome = "ok"
                except VoucherError as refused:
                    outcome = refused.code
                except Exception as error:  # reported in the outcomes, asserted by the test
                    outcome = f"error:{type(error).__name__}"
                with lock:
                    outcomes[outcome] += 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(work, share) for share in shares]
        start.wait()
        began = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - began
    return Burst(outcomes, elapsed)
