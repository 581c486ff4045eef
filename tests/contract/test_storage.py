"""The storage contract: one suite, every backend (local; S3 on SeaweedFS; Azure on Azurite; GCS on
fake-gcs-server; and the in-memory test double). A backend passes when it behaves like the others, errors
included."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from milvus_backup.errors import (
    BucketNotFoundError,
    CopyFailedError,
    InvalidKeyError,
    ObjectNotFoundError,
    StorageAccessDeniedError,
    StorageError,
    StorageUnavailableError,
)
from milvus_backup.progress import NullProgress
from milvus_backup.service.copying import CopyTask, checksum_of, copy_all
from milvus_backup.storage.base import STREAM_CHUNK_BYTES, ObjectInfo, Storage
from milvus_backup.storage.transfer import copy_object
from tests.contract._bytecount import bytes_read
from tests.contract._data import PatternStream, pattern_digest, stream_digest
from tests.contract._kits import Kit, s3_kit

MIB = 1024 * 1024


def keys_of(infos: Any) -> list[str]:
    return [info.key for info in infos]


# -- put, get, stat ---------------------------------------------------------------------------------------


def test_put_get_stat(storage: Storage) -> None:
    storage.put("dir/sub/obj.bin", b"hello \x00 world")
    assert storage.get("dir/sub/obj.bin") == b"hello \x00 world"
    assert storage.stat("dir/sub/obj.bin") == ObjectInfo(key="dir/sub/obj.bin", size=13)
    assert storage.exists("dir/sub/obj.bin")
    with storage.open_read("dir/sub/obj.bin") as stream:
        assert stream.read() == b"hello \x00 world"


def test_empty_object(storage: Storage) -> None:
    storage.put("empty", b"")
    assert storage.get("empty") == b""
    assert storage.stat("empty").size == 0
    storage.put_stream("empty-stream", PatternStream(0), 0)
    assert storage.stat("empty-stream").size == 0


def test_overwrite_replaces_content(storage: Storage) -> None:
    storage.put("k", b"first version, longer")
    storage.put("k", b"second")
    assert storage.get("k") == b"second"
    assert storage.stat("k").size == 6
    assert keys_of(storage.list("")) == ["k"]


def test_put_if_absent_creates_once(storage: Storage) -> None:
    assert storage.put_if_absent("claims/one", b"first") is True
    assert storage.put_if_absent("claims/one", b"second") is False
    assert storage.get("claims/one") == b"first"
    storage.put("claims/two", b"written")
    assert storage.put_if_absent("claims/two", b"late") is False


def test_put_if_absent_has_one_winner_among_concurrent_calls(storage: Storage) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda i: storage.put_if_absent("claims/race", f"run {i}".encode()), range(8)))
    assert won.count(True) == 1
    assert storage.get("claims/race") == f"run {won.index(True)}".encode()


def test_keys_with_unusual_characters(storage: Storage) -> None:
    key = "dir with space/ä+€ & (1)=x?.bin"
    storage.put(key, b"x")
    assert storage.get(key) == b"x"
    assert keys_of(storage.list("dir with space/")) == [key]


def test_stream_put_and_read_of_several_parts(storage: Storage) -> None:
    """More than two parts of STREAM_CHUNK_BYTES and an odd tail: the multipart / block / resumable paths."""
    size = 2 * STREAM_CHUNK_BYTES + 3 * MIB + 17
    storage.put_stream("big/object", PatternStream(size, seed=7), size)
    assert storage.stat("big/object").size == size
    with storage.open_read("big/object") as stream:
        assert stream_digest(stream, piece=STREAM_CHUNK_BYTES) == pattern_digest(size, seed=7)


def test_stream_put_of_a_short_stream_fails_and_writes_nothing(storage: Storage) -> None:
    size = STREAM_CHUNK_BYTES + MIB
    with pytest.raises(StorageError):
        storage.put_stream("short", PatternStream(size - 100), size)
    assert not storage.exists("short")


def test_reported_md5_is_the_content_md5_or_none(storage: Storage) -> None:
    data = b"checksum me" * 100
    storage.put("small", data)
    reported = storage.reported_md5("small")
    # Object stores record it for single-request uploads; a local directory records nothing.
    assert reported == (None if storage.kind == "local" else hashlib.md5(data).hexdigest())
    size = STREAM_CHUNK_BYTES + 1
    storage.put_stream("multi", PatternStream(size), size)
    assert storage.reported_md5("multi") in (None, hashlib.md5(PatternStream(size).read()).hexdigest())
    with pytest.raises(ObjectNotFoundError):
        storage.reported_md5("absent")


def test_open_read_reads_in_pieces(storage: Storage) -> None:
    data = bytes(range(256)) * 1000
    storage.put("pieces", data)
    with storage.open_read("pieces") as stream:
        got = b"".join(iter(lambda: stream.read(999), b""))
    assert got == data


# -- listing ----------------------------------------------------------------------------------------------


def test_list_is_recursive_and_in_key_order(storage: Storage) -> None:
    keys = ["b/2", "a/b/c/d", "a/b.txt", "a/b/x", "a/bc/x", "a/b-1", "c", "a/a"]
    for key in keys:
        storage.put(key, key.encode())
    assert keys_of(storage.list("")) == sorted(keys)
    assert [(i.key, i.size) for i in storage.list("a/")] == [(k, len(k)) for k in sorted(keys) if k.startswith("a/")]


def test_list_prefix_boundaries(storage: Storage) -> None:
    # (No key is both an object and a folder, "a/b" and "a/b/x": a local directory cannot hold both.)
    for key in ["a/b/x", "a/b/y/z", "a/bc/x", "a/b.txt", "ab/x"]:
        storage.put(key, b".")
    assert keys_of(storage.list("a/b/")) == ["a/b/x", "a/b/y/z"]
    # A prefix is a plain string prefix, as in every object store.
    assert keys_of(storage.list("a/b")) == ["a/b.txt", "a/b/x", "a/b/y/z", "a/bc/x"]
    assert keys_of(storage.list("a")) == ["a/b.txt", "a/b/x", "a/b/y/z", "a/bc/x", "ab/x"]
    assert keys_of(storage.list("nothing/")) == []
    assert keys_of(storage.list("a/b/x")) == ["a/b/x"]


def test_list_dirs(storage: Storage) -> None:
    for key in ["backup/one/meta/a", "backup/two/x", "backup/one/b", "backup/top-file", "other/z", "root-file"]:
        storage.put(key, b".")
    assert storage.list_dirs("") == ["backup", "other"]
    assert storage.list_dirs("backup/") == ["one", "two"]
    assert storage.list_dirs("backup/one/") == ["meta"]
    assert storage.list_dirs("backup/two/") == []
    assert storage.list_dirs("absent/") == []
    with pytest.raises(StorageError, match="ending in '/'"):
        storage.list_dirs("backup")


# -- deleting ---------------------------------------------------------------------------------------------


def test_delete_and_delete_missing(storage: Storage) -> None:
    storage.put("d/x", b"1")
    storage.put("d/y", b"2")
    storage.delete("d/x")
    assert not storage.exists("d/x")
    assert keys_of(storage.list("")) == ["d/y"]
    storage.delete("d/x")  # already gone: not an error
    storage.delete("never/existed")
    storage.delete("d/y")
    assert keys_of(storage.list("")) == []
    assert storage.list_dirs("") == []


def test_delete_prefix(storage: Storage) -> None:
    for i in range(12):
        storage.put(f"p/{i:02d}/obj", b".")
    storage.put("p2/keep", b".")
    storage.put("q/keep", b".")
    assert storage.delete_prefix("p/") == 12
    assert keys_of(storage.list("")) == ["p2/keep", "q/keep"]
    assert storage.delete_prefix("p/") == 0


def test_s3_delete_prefix_batches_past_1000(kits: Callable[[str], Kit]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    storage = kits("s3").new()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: storage.put(f"many/{i:04d}", b""), range(1003)))
    storage.put("keep", b".")
    assert storage.delete_prefix("many/") == 1003
    assert keys_of(storage.list("")) == ["keep"]


# -- errors -----------------------------------------------------------------------------------------------


def test_missing_object_is_object_not_found(storage: Storage) -> None:
    storage.put("present", b".")
    for call in (storage.stat, storage.get, storage.open_read):
        with pytest.raises(ObjectNotFoundError) as info:
            call("absent/key")
        assert info.value.fields["key"] == "absent/key"
        assert info.value.exit_code == ObjectNotFoundError.exit_code
    assert storage.exists("absent/key") is False


BAD_KEYS = ["", "/abs", "a//b", "a/../b", "..", "./a", "a/.", "a/", "back\\slash"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_before_the_service_is_asked(kit: Kit, key: str) -> None:
    # The storage's bucket does not exist: any request that reached the service would fail differently.
    storage = kit.missing()
    calls: list[Callable[[], Any]] = [
        lambda: storage.stat(key),
        lambda: storage.get(key),
        lambda: storage.open_read(key),
        lambda: storage.put(key, b"x"),
        lambda: storage.put_stream(key, PatternStream(1), 1),
        lambda: storage.delete(key),
        lambda: storage.exists(key),
        lambda: storage.reported_md5(key),
        lambda: storage.copy_from(storage, key, "fine", 1),
        lambda: storage.copy_from(storage, "fine", key, 1),
    ]
    for call in calls:
        with pytest.raises(InvalidKeyError):
            call()


@pytest.mark.parametrize("prefix", ["/abs/", "a//", "../", "a/../b/"])
def test_invalid_prefixes_are_refused(kit: Kit, prefix: str) -> None:
    storage = kit.missing()
    with pytest.raises(InvalidKeyError):
        list(storage.list(prefix))
    with pytest.raises(InvalidKeyError):
        storage.list_dirs(prefix)
    with pytest.raises(InvalidKeyError):
        storage.delete_prefix(prefix)
    with pytest.raises(InvalidKeyError):
        storage.local_path(prefix)


def test_check_bucket(kit: Kit) -> None:
    kit.new().check_bucket()
    missing = kit.missing()
    with pytest.raises(BucketNotFoundError):
        missing.check_bucket()
    with pytest.raises(BucketNotFoundError):
        list(missing.list(""))


# fake-gcs-server accepts any credentials (or none) and local storage has none: only S3 and Azure can refuse.
@pytest.mark.parametrize("kit", ["s3", "azure"], indirect=True)
def test_wrong_credentials_are_access_denied(kit: Kit) -> None:
    assert kit.bad_credentials is not None
    storage = kit.bad_credentials()
    calls: list[Callable[[], Any]] = [
        storage.check_bucket,
        lambda: storage.put("k", b"x"),
        lambda: storage.get("k"),
        lambda: storage.stat("k"),
        lambda: list(storage.list("")),
    ]
    for call in calls:
        with pytest.raises(StorageAccessDeniedError) as info:
            call()
        assert kit.secret and kit.secret not in str(info.value)


# An unreachable GCS endpoint fails only after google-cloud-storage's 120 s retry deadline; local cannot be.
@pytest.mark.parametrize("kit", ["s3", "azure"], indirect=True)
def test_unreachable_service_is_unavailable(kit: Kit) -> None:
    assert kit.unreachable is not None
    storage = kit.unreachable()
    with pytest.raises(StorageUnavailableError):
        storage.check_bucket()
    with pytest.raises(StorageUnavailableError):
        storage.get("k")


@pytest.mark.parametrize("kit", ["s3", "azure"], indirect=True)
def test_location_and_repr_hide_secrets(kit: Kit) -> None:
    storage = kit.new()
    assert kit.secret
    assert kit.secret not in storage.location
    assert kit.secret not in repr(storage)


# -- copying ----------------------------------------------------------------------------------------------


def test_server_side_copy_across_buckets(kit: Kit) -> None:
    src, dst = kit.new(), kit.new()
    assert dst.can_copy_from(src)
    data = b"copy me " * 1000
    src.put("from/obj", data)
    copied = copy_object(src, "from/obj", dst, "to/obj", len(data), mode="auto")
    assert copied.server_side is True
    assert dst.get("to/obj") == data
    # S3 and GCS answer a copy with the new object's MD5 (sparing a HEAD), a local copy takes a CRC32C of what
    # it writes, Azure's answer has none. (The in-memory double answers like GCS.)
    md5 = f"md5:{hashlib.md5(data).hexdigest()}"
    expected = {
        "s3": md5,
        "gcs": md5,
        "memory": md5,
        "local": checksum_of(dst, "to/obj", trust_service=False),
        "azure": None,
    }
    assert copied.checksum == expected[src.kind]
    # What proves the copy without listing it: a stated size (GCS, local), or an MD5 equal to the one the
    # source's listing states (S3). Azure's answer proves nothing, so its copies are listed.
    sizes = {"s3": None, "gcs": len(data), "local": len(data), "memory": len(data), "azure": None}
    assert copied.size == sizes[src.kind]
    [listed] = src.list("from/")
    assert listed.md5 == (hashlib.md5(data).hexdigest() if src.kind in ("s3", "memory") else None)
    stats = copy_all(
        src, dst, [CopyTask("from/obj", "to/proven", len(data), src_md5=listed.md5)], "auto", 2, NullProgress()
    )
    assert stats.unproven == (frozenset({"to/proven"}) if src.kind == "azure" else frozenset())
    assert copy_object(src, "from/obj", dst, "to/again", len(data), mode="direct").server_side is True
    assert dst.get("to/again") == data
    assert src.get("from/obj") == data  # the source is untouched
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "from/absent", dst, "to/absent", 1, mode="auto")
    assert not dst.exists("to/absent")


def test_a_copy_of_a_multipart_object_reports_its_true_checksum_or_none(storage: Storage) -> None:
    # Milvus may write large binlogs in parts; whatever checksum the copy's answer yields must still be the
    # content's (a multipart ETag must never pass for an MD5).
    size = STREAM_CHUNK_BYTES + 1
    storage.put_stream("parts/src", PatternStream(size, seed=5), size)
    copied = copy_object(storage, "parts/src", storage, "parts/dst", size)
    content = PatternStream(size, seed=5).read()
    true_checksum = {
        "md5": f"md5:{hashlib.md5(content).hexdigest()}",
        "crc32c": checksum_of(storage, "parts/dst", trust_service=False),
    }
    assert copied.checksum in (None, *true_checksum.values())
    assert [info.md5 for info in storage.list("parts/src")] in ([None], [hashlib.md5(content).hexdigest()])
    if storage.kind == "local":
        assert copied.checksum == true_checksum["crc32c"]


def test_copy_from_is_refused_where_it_cannot_copy(storage: Storage) -> None:
    from tests.fakes.memory_storage import MemoryStorage

    elsewhere = MemoryStorage("elsewhere", service="a service no backend copies from")
    elsewhere.put("k", b"x")
    assert not storage.can_copy_from(elsewhere)
    with pytest.raises(StorageError, match="cannot copy server-side"):
        storage.copy_from(elsewhere, "k", "k", 1)
    assert not storage.exists("k")


def test_local_path_only_where_keys_are_local_files(storage: Storage) -> None:
    storage.put("dir/file", b"on disk?")
    if not storage.is_local_directory:
        assert storage.local_path("dir/file") is None
        assert storage.local_path("") is None
        return
    path = storage.local_path("dir/file")
    assert path is not None and Path(path).is_absolute()
    assert Path(path).read_bytes() == b"on disk?"
    assert storage.local_path("dir/") == str(Path(path).parent)
    root = storage.local_path("")
    assert root is not None and Path(root, "dir", "file") == Path(path)


def test_server_side_copy_within_a_bucket(storage: Storage) -> None:
    storage.put("a/src", b"same bucket")
    assert copy_object(storage, "a/src", storage, "b/dst", 11).server_side is True
    assert storage.get("b/dst") == b"same bucket"


def test_s3_multipart_server_side_copy(kits: Callable[[str], Kit]) -> None:
    kit = kits("s3")
    src, dst = kit.new(), kit.new(multipart_copy_threshold=5 * MIB)
    size = 12 * MIB + 5
    src.put_stream("obj", PatternStream(size, seed=3), size)
    copied = copy_object(src, "obj", dst, "copied", size, mode="direct")
    assert copied.server_side is True
    assert copied.checksum is None  # a multipart copy's ETag is no MD5 of the content
    assert copied.size == size  # the sum of the parts it copied
    with dst.open_read("copied") as stream:
        assert stream_digest(stream) == pattern_digest(size, seed=3)
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "absent", dst, "copied-absent", size, mode="direct")


PAIRS = [("s3", "azure"), ("gcs", "local"), ("local", "s3"), ("azure", "gcs"), ("memory", "local"), ("local", "memory")]


@pytest.mark.parametrize(("src_name", "dst_name"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_streaming_copy_between_backends(kits: Callable[[str], Kit], src_name: str, dst_name: str) -> None:
    src, dst = kits(src_name).new(), kits(dst_name).new()
    assert not dst.can_copy_from(src)
    size = STREAM_CHUNK_BYTES + 2 * MIB + 1
    src.put_stream("in/obj", PatternStream(size, seed=11), size)
    assert copy_object(src, "in/obj", dst, "out/obj", size, mode="streaming").server_side is False
    with dst.open_read("out/obj") as stream:
        assert stream_digest(stream) == pattern_digest(size, seed=11)
    src.put("small", b"tiny")
    assert copy_object(src, "small", dst, "small", 4, mode="auto").server_side is False
    assert dst.get("small") == b"tiny"
    with pytest.raises(CopyFailedError):
        copy_object(src, "small", dst, "never", 4, mode="direct")
    with pytest.raises(ObjectNotFoundError):
        copy_object(src, "absent", dst, "never", 4, mode="streaming")
    assert not dst.exists("never")


def test_streaming_copy_between_two_s3_services(kits: Callable[[str], Kit], request: pytest.FixtureRequest) -> None:
    src = kits("s3").new()
    dst = s3_kit(request.getfixturevalue("seaweedfs_b")).new()
    assert not dst.can_copy_from(src)
    src.put("x", b"across services")
    assert copy_object(src, "x", dst, "y", 15).server_side is False
    assert dst.get("y") == b"across services"


def test_streaming_copy_refuses_a_wrong_size(kits: Callable[[str], Kit]) -> None:
    src, dst = kits("local").new(), kits("local").new()
    src.put("x", b"0123456789")
    with pytest.raises(CopyFailedError):
        copy_object(src, "x", dst, "longer", 20, mode="streaming")
    with pytest.raises(CopyFailedError):
        copy_object(src, "x", dst, "shorter", 5, mode="streaming")
    assert keys_of(dst.list("")) == []


# -- server-side copies move no bytes through this process -------------------------------------------------

PROOF_SIZE = 64 * MIB


@pytest.mark.parametrize("variant", ["s3", "s3-multipart", "azure", "gcs"])
def test_server_side_copy_moves_no_bytes_through_this_process(kits: Callable[[str], Kit], variant: str) -> None:
    """A server-side copy of 64 MiB must read next to nothing into this process (files and sockets, all
    threads; see _bytecount.py); a streaming copy of the same object reads all of it, which shows the measure
    sees the bytes when they do pass through."""
    name, _, flavour = variant.partition("-")
    kit = kits(name)
    extra = {"multipart_copy_threshold": 16 * MIB} if flavour == "multipart" else {}
    src, dst = kit.new(), kit.new(**extra)
    src.put_stream("big", PatternStream(PROOF_SIZE, seed=5), PROOF_SIZE)

    with bytes_read() as server_side:
        assert copy_object(src, "big", dst, "server-side", PROOF_SIZE, mode="auto").server_side is True
    with bytes_read() as streamed:
        assert copy_object(src, "big", dst, "streamed", PROOF_SIZE, mode="streaming").server_side is False

    print(f"\n{variant}: server-side copy read {server_side}, streaming copy read {streamed}")
    assert server_side.total < 4 * MIB
    assert streamed.total >= PROOF_SIZE
    assert dst.stat("server-side").size == PROOF_SIZE
    with dst.open_read("server-side") as stream:
        assert stream_digest(stream) == pattern_digest(PROOF_SIZE, seed=5)
    for storage in (src, dst):
        storage.delete_prefix("")


# -- a streaming copy keeps memory bounded ----------------------------------------------------------------

RSS_SIZE = 200 * 1000 * 1000
RSS_LIMIT_BYTES = 100 * 1000 * 1000


def test_streaming_copy_of_200_mb_stays_under_100_mb_rss(
    kits: Callable[[str], Kit], request: pytest.FixtureRequest
) -> None:
    a, b = request.getfixturevalue("seaweedfs"), request.getfixturevalue("seaweedfs_b")
    src = kits("s3").new()
    dst = s3_kit(b).new()
    src.put_stream("huge", PatternStream(RSS_SIZE, seed=9), RSS_SIZE)  # streamed up, never whole in memory

    def side(server: Any, storage: Any) -> dict[str, Any]:
        return {
            "endpoint": f"{server.host}:{server.port}",
            "access_key": server.access_key,
            "secret_key": server.secret_key,
            "bucket": storage.bucket,
        }

    job = {"src": side(a, src), "dst": side(b, dst), "src_key": "huge", "dst_key": "copy", "size": RSS_SIZE}
    script = Path(__file__).with_name("_rss_copy.py")
    # Launched through sh, which forks the interpreter: ru_maxrss survives execve on Linux, so a child exec'd
    # straight from this (big) pytest process would report pytest's peak, not its own.
    done = subprocess.run(
        ["/bin/sh", "-c", '"$0" "$1" "$2"; exit $?', sys.executable, str(script), json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"\nstreaming copy of {RSS_SIZE} bytes in {report['seconds']:.1f} s: ru_maxrss "
        f"{report['ru_maxrss_bytes'] / 1e6:.1f} MB, VmHWM {report['peak_rss_bytes'] / 1e6:.1f} MB, "
        f"{report['rss_after_setup_bytes'] / 1e6:.1f} MB before the copy"
    )
    assert report["server_side"] is False
    assert report["ru_maxrss_bytes"] < RSS_LIMIT_BYTES
    assert report["peak_rss_bytes"] < RSS_LIMIT_BYTES
    assert dst.stat("copy").size == RSS_SIZE
    for storage in (src, dst):
        storage.delete_prefix("")
