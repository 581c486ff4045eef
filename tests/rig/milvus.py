"""Milvus standalone servers from the PyPI ``milvus`` package (2.3.5, and 2.2.x), one or more side by side.

The package's ``MilvusServer`` is not used to launch: it cannot move the
embedded etcd off 2379/2380, forgets ``glog.conf`` when given a template,
probes ports without SO_REUSEADDR and stops with SIGTERM, which Milvus 2.3.5
ignores. The rig renders the package's config template itself, gives every
listener a free port, points the embedded etcd at its own YAML
(``etcd.config.path``) and runs the bundled binary with ``-alias <name>``.

2.3.5 is the venv's ``milvus`` package. Older versions are the same PyPI
package, so they cannot share the venv: ``scripts/_setup.sh`` unpacks each
into ``<repo>/.cache/milvus-<version>-pkg`` and the rig reads its data files
from there (nothing imports it). 2.2 differs in three ways: the template's
message-queue placeholder is ``rocketmq_data_dir``, IndexCoord is a component
of its own with its own port, and there is no ``glog.conf``.

The bundled binaries are unpacked once per version into a shared cache
(``<repo>/.cache/milvus-<version>``, or ``MILVUS_RIG_BIN_CACHE`` for 2.3.5);
that saves about 6 s per start compared to the package's unpack-per-data-dir.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.rig import proc
from tests.rig.ports import LOCALHOST, free_port, port_open, wait_for_port, wait_until
from tests.rig.seaweed import S3Server

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 90.0
MILVUS_VERSION = "2.3.5"
#: Versions the rig can start besides the venv's own (each unpacked by scripts/_setup.sh).
OLDER_VERSIONS = ("2.2.16", "2.2.8")

# Template placeholder -> dotted config key. Each placeholder is one of the
# per-component gRPC ports; all of them get a free port.
_PORT_KEYS = {
    "proxy_port": "proxy.port",
    "proxy_internal_port": "proxy.internalPort",
    "root_coord_port": "rootCoord.port",
    "query_coord_port": "queryCoord.port",
    "query_node_port": "queryNode.port",
    "index_node_port": "indexNode.port",
    "data_coord_port": "dataCoord.port",
    "data_node_port": "dataNode.port",
}
# Components whose advertised address comes from ``<component>.ip``; empty
# means "first unicast address of the host", which is not 127.0.0.1.
_COMPONENTS_WITH_IP = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


@dataclass(frozen=True)
class LocalStorageSpec:
    """Binlogs on the local file system (``common.storageType=local``).

    ``path`` defaults to ``<instance dir>/storage``.
    """

    path: Path | None = None


@dataclass(frozen=True)
class S3StorageSpec:
    """Binlogs in an S3 bucket (``common.storageType=minio``); Milvus creates the bucket."""

    host: str
    port: int
    access_key: str
    secret_key: str
    bucket: str = "milvus-bucket"
    root_path: str = "files"

    @classmethod
    def on(cls, server: S3Server, bucket: str = "milvus-bucket", root_path: str = "files") -> S3StorageSpec:
        return cls(
            host=server.host,
            port=server.port,
            access_key=server.access_key,
            secret_key=server.secret_key,
            bucket=bucket,
            root_path=root_path,
        )


StorageSpec = LocalStorageSpec | S3StorageSpec


@dataclass
class MilvusInstance:
    name: str
    alias: str
    host: str
    port: int
    uri: str
    metrics_port: int
    datacoord_port: int
    data_dir: Path
    local_storage_path: Path | None
    storage: StorageSpec
    log_path: Path
    config_path: Path
    ports: dict[str, int]
    version: str = MILVUS_VERSION
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = field(default=0.0, compare=False)
    #: "user:password" when the instance has authorization enabled.
    token: str = ""
    restart_seconds: list[float] = field(default_factory=list, compare=False)
    _argv: list[str] = field(default_factory=list, repr=False)
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    # ServerID of the running (or last killed) process's etcd sessions.
    _server_id: int | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, timeout: float = 10.0) -> Any:
        """A new ``pymilvus.MilvusClient`` for this instance (close it when done)."""
        from pymilvus import MilvusClient

        return MilvusClient(uri=self.uri, timeout=timeout, token=self.token)

    def _launch(self) -> None:
        self.process = proc.spawn(self._argv, log_path=self.log_path, env=self._env, cwd=self.data_dir)

    def _wait_ready(
        self, timeout: float = READY_TIMEOUT, stale_server_id: int | None = None, *, through_client: bool = True
    ) -> None:
        deadline = time.monotonic() + timeout
        label = f"Milvus '{self.name}'"
        etcd = _EtcdSessions(self.host, self.ports["etcd.client"])

        def stale_sessions_gone() -> bool:
            # After SIGKILL the old process's sessions stay in etcd until their
            # lease expires (~30 s). Since the new process listens on the same
            # ports, coordinators keep dialing "node 1", get "node not match"
            # from node 2, and loads fail with "unrecoverable error" meanwhile.
            # The new process's sessions have higher ServerIDs; drop the old ones.
            if stale_server_id is None:
                return True
            return etcd.delete_up_to(stale_server_id) == 0

        def list_collections() -> bool:
            if not stale_sessions_gone():
                return False
            client = self.client(timeout=5.0)
            try:
                client.list_collections()
            finally:
                client.close()
            return True

        wait_for_port(
            self.host, self.ports["etcd.client"], timeout, name=label, log_path=self.log_path, process=self.process
        )
        wait_until(
            # Purge as soon as the embedded etcd answers, before the new
            # components settle on the stale addresses.
            lambda: stale_sessions_gone() and port_open(self.host, self.port),
            name=label,
            timeout=max(1.0, deadline - time.monotonic()),
            log_path=self.log_path,
            process=self.process,
            what=f"gRPC port {self.port}",
        )
        if not through_client:
            self._server_id = etcd.max_server_id()
            return
        # The proxy's port opens before rootcoord/datacoord are serving.
        wait_until(
            list_collections,
            name=label,
            timeout=max(1.0, deadline - time.monotonic()),
            log_path=self.log_path,
            process=self.process,
            interval=0.3,
            what="MilvusClient.list_collections()",
        )
        self._server_id = etcd.max_server_id()

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it (Milvus ignores SIGTERM)."""
        if self.process is None:
            return
        pid = self.process.pid
        proc.kill(self.process)
        self.process = None
        _remove_run_files(self.alias, pid)

    def restart(self, timeout: float = READY_TIMEOUT) -> None:
        """Start again with the same data, config and ports; wait until ready."""
        if self.running:
            self.kill()
        t0 = time.monotonic()
        self._launch()
        try:
            self._wait_ready(timeout, stale_server_id=self._server_id)
        except BaseException:
            self.kill()
            raise
        self.restart_seconds.append(time.monotonic() - t0)

    def stop(self, remove_data: bool = True) -> None:
        """Kill, then drop etcd/rocksmq/binlog data; configs and logs stay for post-mortems."""
        self.kill()
        if remove_data:
            shutil.rmtree(self.data_dir / "data", ignore_errors=True)
            if self.local_storage_path is not None:
                shutil.rmtree(self.local_storage_path, ignore_errors=True)


class _EtcdSessions:
    """Milvus session keys in the embedded etcd, through etcd's JSON gateway."""

    PREFIX = "by-dev/meta/session/"  # etcd.rootPath + "/" + etcd.metaSubPath

    def __init__(self, host: str, port: int) -> None:
        self._base = f"http://{host}:{port}"

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self._base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return json.loads(resp.read() or b"{}")

    @staticmethod
    def _b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    def server_ids(self) -> dict[str, int]:
        """Session key -> ServerID (the id counter key is left out)."""
        end = self.PREFIX[:-1] + chr(ord(self.PREFIX[-1]) + 1)
        reply = self._call("/v3/kv/range", {"key": self._b64(self.PREFIX), "range_end": self._b64(end)})
        result: dict[str, int] = {}
        for kv in reply.get("kvs", []):
            key = base64.b64decode(kv["key"]).decode()
            try:
                value = json.loads(base64.b64decode(kv.get("value", "")))
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("ServerID"), int):
                result[key] = value["ServerID"]
        return result

    def delete_up_to(self, server_id: int) -> int:
        """Delete sessions whose ServerID is <= ``server_id``; return how many there were."""
        stale = [key for key, sid in self.server_ids().items() if sid <= server_id]
        for key in stale:
            self._call("/v3/kv/deleterange", {"key": self._b64(key)})
        return len(stale)

    def max_server_id(self) -> int | None:
        try:
            ids = self.server_ids().values()
        except OSError:
            return None
        return max(ids, default=None)


def _remove_run_files(alias: str, pid: int) -> None:
    # Milvus ignores MILVUS_RUN_DIR: it writes /run/milvus/standalone-<alias>.pid
    # (/tmp/milvus when /run is not writable) and /tmp/milvus/server_id_<pid>,
    # and a killed process leaves both behind.
    for run_dir in (Path("/run/milvus"), Path("/tmp/milvus")):
        for stale in (run_dir / f"standalone-{alias}.pid", run_dir / f"server_id_{pid}"):
            with contextlib.suppress(OSError):
                stale.unlink(missing_ok=True)


def package_dir(version: str = MILVUS_VERSION) -> Path:
    """The ``milvus`` package directory of this version (its ``data/`` holds the template and the binaries)."""
    if version == MILVUS_VERSION:
        import milvus as milvus_pkg

        return Path(milvus_pkg.__file__).parent
    if version not in OLDER_VERSIONS:
        raise ValueError(f"the rig has no Milvus {version} (it has {MILVUS_VERSION}, {', '.join(OLDER_VERSIONS)})")
    path = REPO_ROOT / ".cache" / f"milvus-{version}-pkg" / "milvus"
    if not (path / "data" / "config.yaml.template").is_file():
        raise FileNotFoundError(f"{path} is missing: run scripts/_setup.sh (setup_env test) to unpack Milvus {version}")
    return path


def bin_dir(version: str = MILVUS_VERSION) -> Path:
    """Directory with the unpacked ``milvus`` binary and its shared libraries.

    Unpacked at most once per package version, under a file lock so that
    concurrent sessions do not write the same files.
    """
    default = REPO_ROOT / ".cache" / f"milvus-{version}"
    base = Path(os.environ.get("MILVUS_RIG_BIN_CACHE") or default) if version == MILVUS_VERSION else default
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".unpack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _unpack(package_dir(version) / "data" / "bin", base / "bin")
    return base / "bin"


def _unpack(packed: Path, target: Path) -> None:
    """Decompress every ``*.lzma`` of the package; a file whose recorded .lzma md5 still matches is skipped (the
    package's own marker files, so a cache it unpacked stays valid)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(packed.glob("*.lzma")):
        out = target / source.name[: -len(".lzma")]
        marker = target / f"{source.name}.md5"
        digest = hashlib.md5(source.read_bytes()).hexdigest()
        if out.is_file() and marker.is_file() and marker.read_text(encoding="utf-8").strip() == digest:
            continue
        with lzma.open(source) as packed_file:
            out.write_bytes(packed_file.read())
        out.chmod(0o755)
        marker.write_text(digest, encoding="utf-8")


def _render_template(version: str, values: dict[str, Any]) -> dict[str, Any]:
    """The package's ``config.yaml.template`` with ``{{ key(type): default }}`` filled in."""
    text = (package_dir(version) / "data" / "config.yaml.template").read_text(encoding="utf-8")

    def substitute(match: re.Match[str]) -> str:
        spec = match.group(1).strip()
        key, _, default = spec.partition(":")
        key = key.split("(")[0].strip()
        if key in values:
            return str(values[key])
        if default.strip():
            return default.strip()
        raise KeyError(f"config template placeholder {key!r} has no value")

    return yaml.safe_load(re.sub(r"\{\{(.*?)\}\}", substitute, text))


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    node = config
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def _write_configs(
    data_dir: Path,
    *,
    name: str,
    ports: dict[str, int],
    etcd_client_port: int,
    etcd_peer_port: int,
    storage: StorageSpec,
    local_storage_path: Path | None,
    settings: dict[str, Any],
    version: str,
) -> Path:
    configs = data_dir / "configs"
    logs = data_dir / "logs"
    state = data_dir / "data"
    for d in (configs, logs, state):
        d.mkdir(parents=True, exist_ok=True)

    etcd_name = f"milvus-{name}"
    etcd_yaml = {
        "name": etcd_name,
        "data-dir": str(state / "etcd.data"),
        "listen-client-urls": f"http://{LOCALHOST}:{etcd_client_port}",
        "advertise-client-urls": f"http://{LOCALHOST}:{etcd_client_port}",
        "listen-peer-urls": f"http://{LOCALHOST}:{etcd_peer_port}",
        "initial-advertise-peer-urls": f"http://{LOCALHOST}:{etcd_peer_port}",
        "initial-cluster": f"{etcd_name}=http://{LOCALHOST}:{etcd_peer_port}",
        "initial-cluster-state": "new",
        # A restarted single-member etcd waits one election timeout (1 s by
        # default) before it serves; with no peers a short one is safe.
        "heartbeat-interval": 50,
        "election-timeout": 250,
    }
    etcd_path = configs / "etcd.yaml"
    etcd_path.write_text(yaml.safe_dump(etcd_yaml, sort_keys=False), encoding="utf-8")

    values: dict[str, Any] = {
        "etcd_port": etcd_client_port,
        "etcd_log_path": str(logs / "etcd.log"),
        "etcd_data_dir": str(state / "etcd.data"),
        "rocksmq_data_dir": str(state / "rocksmq"),
        "rocketmq_data_dir": str(state / "rocksmq"),  # 2.2's name for the same placeholder
        # With S3 storage the QueryNode still keeps its chunk cache here.
        "local_storage_dir": str(local_storage_path or state / "local-cache"),
        # Empty: Milvus then logs to stdout only, which the rig captures in one file.
        "system_log_path": '""',
        "log_stdout": "true",  # 2.2's template defaults to false: nothing would be logged after start-up
    }
    values.update({placeholder: ports[key] for placeholder, key in _PORT_KEYS.items()})
    # 2.2: IndexCoord's own port. 2.3: only part of indexCoord.bindIndexNodeMode.address
    # (disabled); IndexCoord lives inside DataCoord and listens on its port.
    values["index_coord_port"] = ports.get("indexCoord.port", ports["dataCoord.port"])
    config = _render_template(version, values)

    _set(config, "etcd.endpoints", f"{LOCALHOST}:{etcd_client_port}")
    _set(config, "etcd.config.path", str(etcd_path))
    for component in (*_COMPONENTS_WITH_IP, *(("indexCoord",) if "indexCoord.port" in ports else ())):
        _set(config, f"{component}.ip", LOCALHOST)
    if isinstance(storage, S3StorageSpec):
        _set(config, "common.storageType", "minio")
        _set(config, "minio.address", storage.host)
        _set(config, "minio.port", storage.port)
        _set(config, "minio.accessKeyID", storage.access_key)
        _set(config, "minio.secretAccessKey", storage.secret_key)
        _set(config, "minio.bucketName", storage.bucket)
        _set(config, "minio.rootPath", storage.root_path)
        _set(config, "minio.useSSL", False)
        _set(config, "minio.useIAM", False)
        _set(config, "minio.cloudProvider", "aws")
    else:
        _set(config, "common.storageType", "local")
        _set(config, "localStorage.path", str(local_storage_path))
    for key, value in settings.items():
        _set(config, key, value)

    config_path = configs / "milvus.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # The C++ core reads glog settings from configs/glog.conf (log_dir=logs/, relative to cwd); 2.2 ships none.
    glog = package_dir(version) / "data" / "glog.conf"
    if glog.is_file():
        shutil.copy(glog, configs / "glog.conf")
    return config_path


def start_milvus(
    workdir: Path,
    *,
    name: str,
    storage: StorageSpec,
    settings: dict[str, Any] | None = None,
    token: str = "",
    version: str = MILVUS_VERSION,
    wait_for_client: bool = True,
) -> MilvusInstance:
    """Start a standalone Milvus whose config, state and logs all live in ``workdir``.

    ``name`` names the embedded etcd member and, with this process's pid, the
    ``-alias``: Milvus writes ``/run/milvus/standalone-<alias>.pid`` whatever
    MILVUS_RUN_DIR says, and that directory is shared by every test session on
    the machine. Use a different name and workdir per instance. Without `wait_for_client` it is ready once its
    gRPC port is open (for a Milvus that pymilvus 3 cannot talk to).
    """
    t0 = time.monotonic()
    data_dir = workdir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    local_storage_path: Path | None = None
    if isinstance(storage, LocalStorageSpec):
        local_storage_path = (storage.path or data_dir / "storage").resolve()
        local_storage_path.mkdir(parents=True, exist_ok=True)

    ports = {key: free_port() for key in _PORT_KEYS.values()}
    if version.startswith("2.2."):
        ports["indexCoord.port"] = free_port()
    metrics_port = free_port()
    etcd_client_port = free_port()
    etcd_peer_port = free_port()
    ports.update({"metrics": metrics_port, "etcd.client": etcd_client_port, "etcd.peer": etcd_peer_port})

    config_path = _write_configs(
        data_dir,
        name=name,
        ports=ports,
        etcd_client_port=etcd_client_port,
        etcd_peer_port=etcd_peer_port,
        storage=storage,
        local_storage_path=local_storage_path,
        settings=settings or {},
        version=version,
    )
    binaries = bin_dir(version)
    env = dict(os.environ)
    env.update(
        {
            "DEPLOY_MODE": "STANDALONE",
            # The management/metrics HTTP server (9091 by default) takes its port from here.
            "METRICS_PORT": str(metrics_port),
            # Where the binary reads milvus.yaml and glog.conf.
            "MILVUSCONF": str(config_path.parent),
            "LD_LIBRARY_PATH": os.pathsep.join(p for p in (str(binaries), os.environ.get("LD_LIBRARY_PATH")) if p),
        }
    )
    alias = f"{name}-{os.getpid()}"
    instance = MilvusInstance(
        name=name,
        alias=alias,
        host=LOCALHOST,
        port=ports["proxy.port"],
        uri=f"http://{LOCALHOST}:{ports['proxy.port']}",
        metrics_port=metrics_port,
        datacoord_port=ports["dataCoord.port"],
        data_dir=data_dir,
        local_storage_path=local_storage_path,
        storage=storage,
        log_path=data_dir / "logs" / "milvus.log",
        config_path=config_path,
        ports=ports,
        version=version,
        token=token,
        _argv=[str(binaries / "milvus"), "run", "standalone", "-alias", alias],
        _env=env,
    )
    instance._launch()
    try:
        instance._wait_ready(through_client=wait_for_client)
    except BaseException:
        instance.kill()
        raise
    instance.startup_seconds = time.monotonic() - t0
    return instance


__all__ = [
    "LocalStorageSpec",
    "MilvusInstance",
    "S3StorageSpec",
    "StorageSpec",
    "start_milvus",
]
