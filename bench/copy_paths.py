"""`python -m bench.copy_paths`: where a local backup's copy time goes, without Milvus.

The same files (page-cached, like a fresh Milvus segment) copied five ways, median of
`--runs` interleaved runs:

* ``raw``: `shutil.copyfile` (the kernel copies with sendfile), `--concurrency` at a time: the main benchmark's
  baseline;
* ``crc_only``: reading every byte and taking its CRC32C, nothing written: the checksum's own cost;
* ``tool``: `copy_all`, as a backup copies: `LocalStorage.copy_from` copies through this process and takes the
  CRC32C on the way, as many at once as there are cores (`LocalStorage.copy_parallelism`);
* ``tool_all_threads``: the same copies, but `--concurrency` at once (the tool until the copies were capped);
* ``raw_then_crc``: the baseline followed by reading the copy back for its checksum (the tool before it
  took the checksum while copying).

See docs/benchmarks.md for what the figures show.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from milvus_backup.progress import NullProgress
from milvus_backup.service.copying import CopyTask, checksum_of, copy_all
from milvus_backup.storage.local import LocalStorage


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.copy_paths", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=120, help="files to copy")
    parser.add_argument("--size-mb", type=float, default=2.0, help="size of each file (MB)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    size = int(args.size_mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="milvus-backup-copy-paths-") as tmp:
        work = Path(tmp)
        keys = [f"seg{i // 6}/f{i % 6}" for i in range(args.files)]
        for key in keys:
            path = work / "src" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(size))
        source = LocalStorage(work / "src")

        def each(fn: Callable[[str], object]) -> None:
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                list(pool.map(fn, keys))

        def raw(dst: Path) -> Callable[[str], object]:
            def one(key: str) -> None:
                (dst / key).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(work / "src" / key, dst / key)

            return one

        def raw_then_crc(dst: Path) -> Callable[[str], object]:
            copied = LocalStorage(dst)

            def one(key: str) -> None:
                raw(dst)(key)
                checksum_of(copied, key, trust_service=False)

            return one

        def tool(dst: Path) -> None:
            dst.mkdir()
            copy_all(
                source,
                LocalStorage(dst),
                [CopyTask(key, key, size) for key in keys],
                "auto",
                args.concurrency,
                NullProgress(),
            )

        def tool_all_threads(dst: Path) -> Callable[[str], object]:
            dst.mkdir()
            target = LocalStorage(dst)
            return lambda key: target.copy_from(source, key, key, size)

        def per_file(way: Callable[[Path], Callable[[str], object]]) -> Callable[[Path], None]:
            return lambda dst: each(way(dst))

        # Each way copies the files into a fresh folder.
        ways: dict[str, Callable[[Path], object]] = {
            "raw": per_file(raw),
            "crc_only": per_file(lambda _dst: lambda key: checksum_of(source, key, trust_service=False)),
            "tool": tool,
            "tool_all_threads": per_file(tool_all_threads),
            "raw_then_crc": per_file(raw_then_crc),
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for run in range(args.runs):
            for name, way in ways.items():
                dst = work / f"{name}-{run}"
                times[name].append(_timed(partial(way, dst)))
                shutil.rmtree(dst, ignore_errors=True)
    raw_s = statistics.median(times["raw"])
    print(f"{args.files} files x {args.size_mb} MB, concurrency {args.concurrency}, median of {args.runs} runs\n")
    print("| way | seconds | ÷ raw |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.3f} | {statistics.median(values) / raw_s:.2f} |")


if __name__ == "__main__":
    main()
