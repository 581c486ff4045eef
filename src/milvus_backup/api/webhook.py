"""The failure webhook (`server.failureWebhook`): a JSON POST for every scheduled run that fails.

It is sent from a thread of its own with a short timeout, so a slow or dead receiver delays nothing; a POST that
fails is logged, not retried (the metrics keep the failure count for alerting).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

from milvus_backup.service.jobs import STATE_NAMES
from milvus_backup.service.schedules import Failure

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


def failure_payload(failure: Failure) -> dict[str, Any]:
    job = failure.job
    return {
        "event": "schedule_failed",
        "schedule": failure.schedule,
        "job_id": job.id,
        "backup_name": job.name,
        "state": STATE_NAMES[job.state],
        "error": job.error,
        "start_time": job.start_time,
        "end_time": job.end_time,
    }


class FailureWebhook:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, failure: Failure) -> None:
        body = json.dumps(failure_payload(failure)).encode()
        threading.Thread(target=self._post, args=(body, failure), name="failure-webhook", daemon=True).start()

    def _post(self, body: bytes, failure: Failure) -> None:
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                answer.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("failure webhook for schedule %s (job %s): %s", failure.schedule, failure.job.id, exc)
