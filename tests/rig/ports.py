"""Free-port selection and readiness polling for the servers the test rig starts.

Ports are picked at random *below* the kernel's ephemeral range: outgoing
connections (Milvus opens many) take their local port from that range, and a
server that is restarted on the same ports (``MilvusInstance.restart``) must not
find one of them taken by some client socket in the meantime.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

LOCALHOST = "127.0.0.1"

_FALLBACK_EPHEMERAL_LOW = 32768
_RANGE_LOW = 20000
_handed_out: set[int] = set()
_lock = threading.Lock()


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return _FALLBACK_EPHEMERAL_LOW


def _can_bind(host: str, port: int) -> bool:
    # No SO_REUSEADDR: a port that binds without it is free for every server,
    # including ones that would refuse a port still in TIME_WAIT. The wildcard
    # address is probed too because Milvus 2.3.5 binds its gRPC and metrics
    # ports on all interfaces whatever the config says.
    for addr in {host, "0.0.0.0"}:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((addr, port))
            except OSError:
                return False
    return True


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port on ``host`` that is free now and was not handed out before.

    The in-process record keeps two servers of one session from getting the same
    port between the probe here and their own bind.
    """
    high = _ephemeral_low()
    rng = random.SystemRandom()
    with _lock:
        if high - _RANGE_LOW > 1000:
            for _ in range(500):
                port = rng.randrange(_RANGE_LOW, high)
                if port not in _handed_out and _can_bind(host, port):
                    _handed_out.add(port)
                    return port
        # Exotic port ranges: let the kernel choose.
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port found on {host}")


def free_port_pair(offset: int, host: str = LOCALHOST) -> tuple[int, int]:
    """Return ``(p, p + offset)``, both free: for servers that derive one port from another."""
    rng = random.SystemRandom()
    high = _ephemeral_low()
    with _lock:
        for _ in range(500):
            port = rng.randrange(_RANGE_LOW, max(_RANGE_LOW + 1, high - offset))
            pair = (port, port + offset)
            if any(p in _handed_out for p in pair):
                continue
            if all(_can_bind(host, p) for p in pair):
                _handed_out.update(pair)
                return pair
    raise RuntimeError(f"no free TCP port pair (offset {offset}) found on {host}")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path | None, lines: int = 80) -> str:
    """Last ``lines`` lines of a log file, or a note saying why there are none."""
    if path is None:
        return "(no log file)"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    # Milvus logs whole stack traces on one line; keep each line readable.
    tail = [line if len(line) <= 600 else line[:600] + " [...]" for line in text.splitlines()[-lines:]]
    return "\n".join(tail) if tail else f"({path} is empty)"


def start_error(
    name: str, reason: str, log_path: Path | None, process: subprocess.Popen[bytes] | None = None
) -> ServerStartError:
    status = ""
    if process is not None and process.poll() is not None:
        status = f" (process exited with code {process.returncode})"
    return ServerStartError(
        f"{name} did not come up: {reason}{status}\n--- tail of {log_path} ---\n{log_tail(log_path)}"
    )


def wait_until(
    check: Callable[[], bool],
    *,
    name: str,
    timeout: float,
    log_path: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.1,
    what: str = "readiness check",
) -> None:
    """Poll ``check`` until it returns True; fail fast if ``process`` dies."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        if process is not None and process.poll() is not None:
            raise start_error(name, f"process died before {what} passed", log_path, process)
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - the server is still starting
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_exc!r}" if last_exc else ""
            raise start_error(name, f"{what} failed for {timeout:.0f} s{detail}", log_path, process)
        time.sleep(interval)


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    *,
    name: str = "server",
    log_path: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until ``host:port`` accepts TCP connections, else raise ServerStartError."""
    wait_until(
        lambda: port_open(host, port),
        name=name,
        timeout=timeout,
        log_path=log_path,
        process=process,
        what=f"connect to {host}:{port}",
    )
