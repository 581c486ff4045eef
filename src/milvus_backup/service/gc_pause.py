"""Keep Milvus GC paused for as long as a backup copies binlogs; resume it afterwards, also on failure.

A pause is a lease: it is renewed in the background before it runs out, so a long copy stays protected and a
killed backup stops protecting nothing for longer than one lease. A pause that cannot be made is a warning of
the run, not a failure: Milvus keeps dropped segments' files for `dataCoord.gc.dropTolerance` (3 h by default).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from milvus_backup.milvus.protocol import GcControl, GcUnsupported

logger = logging.getLogger(__name__)

LEASE_SECONDS = 600


#: What to do when no way to pause GC worked, unless the caller knows the server's version better.
DEFAULT_OFFER = "Set milvus.management.endpoint (Milvus >= 2.4) or milvus.dataCoord.address (Milvus 2.3)"


def _first_working(
    controls: list[GcControl], seconds: int, warn: Callable[[str], None], offer: str
) -> GcControl | None:
    reasons = []
    for control in controls:
        try:
            control.pause(seconds)
        except GcUnsupported as exc:
            reasons.append(str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - any failure to pause only warns, as upstream
            reasons.append(f"{control.name}: {exc}")
            continue
        logger.info("paused Milvus GC through the %s (lease %d s, renewed while the copy runs)", control.name, seconds)
        return control
    warn(
        "could not pause Milvus GC; the backup continued, relying on Milvus keeping dropped files for "
        f"dataCoord.gc.dropTolerance. {offer}. Reasons: {'; '.join(reasons) or 'no GC control configured'}"
    )
    return None


@contextlib.contextmanager
def gc_paused(
    controls: list[GcControl],
    warn: Callable[[str], None],
    lease_seconds: int = LEASE_SECONDS,
    offer: str = DEFAULT_OFFER,
) -> Iterator[bool]:
    """Yields whether GC is paused; `offer` says, in the warning when it is not, what the server offers."""
    control = _first_working(controls, lease_seconds, warn, offer)
    if control is None:
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_seconds / 2):
            try:
                control.pause(lease_seconds)
            except Exception as exc:  # noqa: BLE001 - a failed renewal must not kill the backup
                logger.warning("renewing the Milvus GC pause failed: %s", exc)

    renewer = threading.Thread(target=renew, name="gc-pause-renewal", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join()
        try:
            control.resume()
            logger.info("resumed Milvus GC through the %s", control.name)
        except Exception as exc:  # noqa: BLE001 - the lease ends by itself; say so instead of failing the run
            warn(f"resuming Milvus GC failed ({exc}); it resumes by itself within {lease_seconds} s")
