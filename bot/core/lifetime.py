"""Child processes that die with their parent.

A ``kill -9`` of the parent runs no cleanup, so a pool's children would be orphaned and go
on analysing a file nobody waits for. On Linux the kernel sends them SIGKILL when the
parent dies (``prctl(PR_SET_PDEATHSIG)``): that works even while ast-grep holds the GIL,
which a watcher thread in the child could not. Elsewhere a watcher thread of the parent's
pipe is the best there is, and it waits for the GIL.

The signal follows the *thread* that started the child, not the process: pools must
start their children from a thread that lives as long as they do (the main thread, or
the pool's own manager thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Call first thing in a child process (a pool initializer)."""
    parent = multiprocessing.parent_process()
    if sys.platform.startswith("linux") and _set_pdeathsig(signal.SIGKILL):
        # The parent may have died before the call: then we were re-parented already.
        if parent is not None and os.getppid() != parent.pid:
            os._exit(1)
        return
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(target=_exit_on_close, args=(sentinel,), daemon=True).start()


def _set_pdeathsig(sig: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def _exit_on_close(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)
