"""Azurite (npm) blob service on 127.0.0.1 with the well-known dev account."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rig import proc
from tests.rig.ports import LOCALHOST, free_port, wait_for_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's fixed development key, public in its documentation.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class AzuriteServer:
    host: str
    port: int
    account_name: str
    account_key: str
    blob_url: str
    connection_string: str
    process: subprocess.Popen[bytes] | None
    location: Path
    log_path: Path
    startup_seconds: float = field(default=0.0, compare=False)

    def client(self) -> Any:
        """A new ``BlobServiceClient`` for this server."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def stop(self) -> None:
        proc.kill(self.process)
        self.process = None


def azurite_binary() -> Path:
    """``AZURITE_BIN``, else the project's npm cache, else ``azurite`` on PATH.

    The blob-only launcher ``azurite-blob`` next to it is preferred: it does not
    open the queue and table services on their fixed ports.
    """
    candidates: list[Path] = []
    if os.environ.get("AZURITE_BIN"):
        candidates.append(Path(os.environ["AZURITE_BIN"]))
    candidates.append(REPO_ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "azurite")
    on_path = shutil.which("azurite")
    if on_path:
        candidates.append(Path(on_path))
    for cand in candidates:
        if cand.is_file():
            blob_only = cand.with_name("azurite-blob")
            return blob_only if blob_only.is_file() else cand
    raise RuntimeError(
        "Azurite not found: set AZURITE_BIN, or run "
        "`npm install --prefix .cache/npm azurite@3.37.0` in the repository root. Looked at: "
        + ", ".join(str(c) for c in candidates)
    )


def connection_string(host: str, port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{ACCOUNT_NAME};"
    )


def start_azurite(workdir: Path) -> AzuriteServer:
    t0 = time.monotonic()
    location = workdir / "data"
    location.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "azurite.log"
    port = free_port()
    binary = azurite_binary()
    cmd: list[str] = [
        str(binary),
        "--blobHost",
        LOCALHOST,
        "--blobPort",
        str(port),
        "--location",
        str(location),
        # Newer SDKs send API versions Azurite 3.37 does not know yet.
        "--skipApiVersionCheck",
        # Ignore headers Azurite does not support instead of failing requests.
        "--loose",
        "--disableTelemetry",
    ]
    if binary.name == "azurite":
        # The all-in-one launcher also starts queue and table services.
        cmd += ["--queueHost", LOCALHOST, "--queuePort", str(free_port())]
        cmd += ["--tableHost", LOCALHOST, "--tablePort", str(free_port())]
    process = proc.spawn(cmd, log_path=log_path, cwd=workdir)
    server = AzuriteServer(
        host=LOCALHOST,
        port=port,
        account_name=ACCOUNT_NAME,
        account_key=ACCOUNT_KEY,
        blob_url=f"http://{LOCALHOST}:{port}/{ACCOUNT_NAME}",
        connection_string=connection_string(LOCALHOST, port),
        process=process,
        location=location,
        log_path=log_path,
    )
    try:
        wait_for_port(LOCALHOST, port, START_TIMEOUT, name="Azurite", log_path=log_path, process=process)
        client = server.client()
        wait_until(
            lambda: list(client.list_containers()) is not None,
            name="Azurite",
            timeout=START_TIMEOUT,
            log_path=log_path,
            process=process,
            what="ListContainers",
        )
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - t0
    return server
