"""A real, small file system for disk-full tests, without root: a tmpfs of a chosen size mounted in a user and
mount namespace of its own (`unshare --user --map-root-user --mount`), visible only to the command run there.

Writes past its size fail with ENOSPC from the kernel, exactly as on a full disk. The tests run their code there
with `unshare --user --map-root-user --mount <command>`, which mounts the file systems it needs."""

from __future__ import annotations

import functools
import shutil
import subprocess


@functools.cache
def available() -> bool:
    """Whether this machine lets an unprivileged process mount a tmpfs in a namespace of its own."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0
