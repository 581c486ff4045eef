"""Run one streaming S3 -> S3 copy in a fresh process and report its peak memory (used by test_storage.py).

Usage: python _rss_copy.py '<json job>'; prints one JSON line. Imports only what the copy needs, so the peak
is the copy's own footprint plus the interpreter and botocore.

Two peaks are reported: `getrusage(RUSAGE_SELF).ru_maxrss` and `VmHWM` (this address space's high-water RSS).
On Linux ru_maxrss survives execve, so a process exec'd straight from a big parent (pytest) reports the
parent's peak; the test therefore starts this script through `sh`, whose fork gives it a fresh count.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from milvus_backup.storage.s3 import S3Storage
from milvus_backup.storage.transfer import copy_object


def storage(side: dict[str, str]) -> S3Storage:
    return S3Storage(
        side["bucket"],
        endpoint=side["endpoint"],
        use_ssl=False,
        access_key=side["access_key"],
        secret_key=side["secret_key"],
        provider="minio",
    )


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    job = json.loads(sys.argv[1])
    src, dst = storage(job["src"]), storage(job["dst"])
    rss_after_setup = status_kib("VmRSS") * 1024
    started = time.monotonic()
    server_side = copy_object(src, job["src_key"], dst, job["dst_key"], job["size"], mode="streaming").server_side
    seconds = time.monotonic() - started
    print(
        json.dumps(
            {
                "server_side": server_side,
                "peak_rss_bytes": status_kib("VmHWM") * 1024,
                "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
                "rss_after_setup_bytes": rss_after_setup,
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
