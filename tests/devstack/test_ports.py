"""A busy port is reported with the process holding it, where this machine tells us."""

from __future__ import annotations

import os
import socket

from devstack.ready import port_holder
from tests.e2e.stack import free_port


def test_the_process_listening_on_a_port_is_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        holder = port_holder(held.getsockname()[1])
    assert holder is not None
    assert f"(pid {os.getpid()}:" in holder
    assert "python" in holder or "pytest" in holder


def test_a_free_port_has_no_holder() -> None:
    assert port_holder(free_port()) is None
