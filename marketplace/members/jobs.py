"""RQ jobs for members. They take ids, run inside the worker's app context, and are idempotent."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import current_app
from rq import Retry, get_current_job

from ..extensions import db, get_queue
from . import importer
from .models import MemberImport

log = logging.getLogger(__name__)


def upload_path(import_id: int) -> Path:
    return Path(current_app.instance_path) / "imports" / f"{import_id}.csv"


def store_upload(import_id: int, data: bytes) -> Path:
    """Keep the roster until its job finishes; it holds clear ID numbers, so owner-only."""
    path = upload_path(import_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def enqueue_import(import_id: int):
    return get_queue().enqueue(
        run_import,
        import_id,
        job_id=f"member-import-{import_id}",
        job_timeout=1800,
        result_ttl=3600,
        # A database blip should not cost the admin a re-upload; after the last try the file
        # (clear ID numbers) is deleted.
        retry=Retry(max=3, interval=[10, 60, 300]),
    )


def _last_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _record_failure(import_id: int, final: bool) -> None:
    db.session.rollback()
    imp = db.session.get(MemberImport, import_id)
    if final:
        imp.status, imp.failure = "failed", "Internal error; upload the file again."
    else:
        imp.status, imp.failure = "queued", "Internal error; the import will be retried."
    db.session.commit()


def run_import(import_id: int) -> dict:
    """Import a stored roster; a rerun after a crash resumes, after success does nothing.

    The upload holds clear ID numbers, so it is deleted as soon as the job is over: done, a bad
    file, or the last retry failed. Bad rows are row errors and never fail the job.
    """
    imp = db.session.get(MemberImport, import_id)
    if imp is None:
        log.warning("member import %s not found", import_id)
        return {"status": "missing"}
    path = upload_path(import_id)
    if imp.status != "done":
        if not path.exists():
            imp.status, imp.failure = "failed", "The uploaded file is no longer available."
            db.session.commit()
            return {"status": imp.status}
        try:
            importer.run_import(imp, path.read_bytes())
        except importer.RosterError:
            pass  # a bad file (recorded on the import row): nothing to resume
        except Exception:
            final = _last_attempt()
            try:
                _record_failure(import_id, final)
            finally:
                if final:
                    path.unlink(missing_ok=True)
            raise  # before the last try the file stays: the retry resumes after the last batch
    path.unlink(missing_ok=True)
    return {"status": imp.status, "created": imp.created, "rejected": imp.rejected}
