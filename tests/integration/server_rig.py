"""Starting `milvus-backup server` for the tests: uvicorn in a thread of the test process, or the real command
in a subprocess (for the tests that kill it)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from milvus_backup.api.app import create_app
from milvus_backup.config import load_config
from tests.rig import proc
from tests.rig.ports import LOCALHOST, free_port, wait_until

TOOL = str(Path(sys.executable).parent / "milvus-backup")
STARTUP_SECONDS = 30


class ThreadServer:
    """create_app + uvicorn on a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self, config_path: Path, jobs_dir: Path) -> None:
        config = load_config(str(config_path), env={}, explicit=True).config
        self.port = free_port()
        self.url = f"http://{LOCALHOST}:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(create_app(config, jobs_dir), host=LOCALHOST, port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        wait_until(lambda: self._server.started, name="uvicorn", timeout=STARTUP_SECONDS)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@dataclass
class ProcessServer:
    """`milvus-backup --config FILE server -p PORT` as a real process."""

    config_path: Path
    log_path: Path
    port: int = 0
    process: Any = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def start(self) -> ProcessServer:
        self.port = free_port()
        self.process = proc.spawn(
            [TOOL, "--config", str(self.config_path), "server", "-p", str(self.port)], log_path=self.log_path
        )
        wait_until(
            lambda: httpx.get(f"{self.url}/api/v1/hello", timeout=2).status_code == 200,
            name="server",
            timeout=STARTUP_SECONDS,
            log_path=self.log_path,
            process=self.process,
        )
        return self

    def kill(self) -> None:
        proc.kill(self.process)


def poll(
    check: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 180,
    interval: float = 0.2,
) -> dict[str, Any]:
    """Call `check` until `done` says so; the last answer is returned (or the test fails with it)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if done(answer):
            return answer
        assert time.monotonic() < deadline, f"still not done after {timeout} s: {answer}"
        time.sleep(interval)
