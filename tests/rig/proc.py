"""Start server processes in their own process group and make sure they die.

Every child is started with ``start_new_session=True`` so that one ``killpg``
takes the server and anything it forked. Live children are tracked here; an
``atexit`` hook (and ``kill_all`` from the session fixture) SIGKILLs whatever is
left. Where ``setpriv`` exists, children also get ``PDEATHSIG=KILL`` so they die
with the test process even if it is SIGKILLed itself. The kernel sends that
signal when the *thread* that spawned the child ends, so spawn servers from the
main thread (pytest fixtures and tests run there), not from short-lived threads.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

_live: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()
_SETPRIV = shutil.which("setpriv")


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a new session with stdout+stderr appended to ``log_path``."""
    argv = [str(c) for c in cmd]
    if _SETPRIV and threading.current_thread() is threading.main_thread():
        argv = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n=== starting: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    with _lock:
        _live[proc.pid] = proc
    return proc


def kill(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """SIGKILL the process group of ``proc`` and reap it.

    SIGKILL rather than SIGTERM: Milvus 2.3.5 ignores SIGTERM/SIGINT (it logs
    "All cleanup done" and stays), and the rig never needs a graceful shutdown.
    """
    if proc is None:
        return
    # The group outlives its leader if a child survived; kill it regardless.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):  # a process in D state does not end
        proc.wait(timeout=timeout)
    with _lock:
        _live.pop(proc.pid, None)


def kill_all() -> None:
    """SIGKILL every process group this module started that is still tracked."""
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        kill(proc, timeout=5.0)


def live_pids() -> list[int]:
    with _lock:
        return [pid for pid, p in _live.items() if p.poll() is None]


atexit.register(kill_all)
