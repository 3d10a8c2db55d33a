"""Children of the dev stack die with the supervisor, even when it is killed outright.

Linux sends a process a chosen signal when its parent dies if the process asked for it
(`PR_SET_PDEATHSIG`), and the request survives `exec`. `Popen(preexec_fn=...)` could ask, but Python code
between fork and exec may deadlock once the supervisor has threads (the Temporal client's runtime starts
some), so each child starts as this tiny launcher instead: ask, check the parent is still the supervisor,
then exec the real command in the same process."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
ENABLED = sys.platform.startswith("linux")


def guarded(argv: list[str]) -> list[str]:
    """`argv`, started so that it receives SIGTERM when the calling process dies (Linux only)."""
    if not ENABLED:
        return argv
    return [sys.executable, "-m", "devstack.parent_death", str(os.getpid()), "--", *argv]


def main(args: list[str]) -> None:
    parent, separator, *argv = args
    if separator != "--" or not argv:
        raise SystemExit("usage: python -m devstack.parent_death <parent pid> -- <command>...")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the request took effect: then no signal will ever come.
    if os.getppid() != int(parent):
        raise SystemExit(f"parent {parent} is gone; not starting {argv[0]}")
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
