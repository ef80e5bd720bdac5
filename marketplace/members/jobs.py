"""RQ jobs for members. They take ids, run inside the worker's app context, and are idempotent."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import current_app

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
    )


def run_import(import_id: int) -> dict:
    """Import a stored roster; a rerun after a crash resumes, after success does nothing."""
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
            db.session.rollback()
            imp = db.session.get(MemberImport, import_id)
            imp.status, imp.failure = "failed", "Internal error; the import can be retried."
            db.session.commit()
            raise  # the file stays, so a retry resumes after the last committed batch
    path.unlink(missing_ok=True)
    return {"status": imp.status, "created": imp.created, "rejected": imp.rejected}
