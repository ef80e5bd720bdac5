"""Application documents: checked by their bytes, size-limited, stored outside the web root.

A document is a JPEG, PNG, WebP picture or a PDF, recognised by its first bytes (the name and
the declared content type are ignored: a forged one changes nothing). Larger than
``SERVICE_DOC_MAX_BYTES`` (5 MiB by default): 413 ``document_too_large``; another kind of file:
415 ``document_type``. The bytes go to ``<instance>/service-documents/<random token>``; the
member's file name is neither stored nor logged. Only the applicant and the reviewers who may
see the application can download it (``applications.get_for``), and each download is
audit-logged.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from flask import current_app

from marketplace.errors import Problem

MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
MAX_DOCUMENTS = 5
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
}


def max_bytes() -> int:
    return int(current_app.config.get("SERVICE_DOC_MAX_BYTES", 5 * 1024 * 1024))


def request_limit() -> int:
    """The body limit for a request that carries documents (all of them plus the form)."""
    return max_bytes() * MAX_DOCUMENTS + 64 * 1024


def sniff(data: bytes) -> str | None:
    for magic, mime in MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(files: list[bytes]) -> list[tuple[bytes, str]]:
    """(bytes, content type) of each upload, or the problem with the first bad one."""
    if len(files) > MAX_DOCUMENTS:
        raise Problem(f"At most {MAX_DOCUMENTS} documents at a time.", status=422,
                      code="too_many_documents")  # fmt: skip
    checked = []
    limit = max_bytes()
    for data in files:
        if not data:
            raise Problem("A document is empty.", status=422, code="document_empty")
        if len(data) > limit:
            raise Problem(f"A document is larger than {limit // 1024} KB.", status=413,
                          code="document_too_large", limit=limit)  # fmt: skip
        mime = sniff(data)
        if mime is None:
            raise Problem("Documents must be JPEG, PNG or WebP pictures or PDF files.",
                          status=415, code="document_type")  # fmt: skip
        checked.append((data, mime))
    return checked


def folder() -> Path:
    path = Path(current_app.instance_path) / "service-documents"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def store(data: bytes) -> tuple[str, str]:
    """Write the bytes under a fresh random name; returns (storage name, sha256)."""
    name = secrets.token_hex(16)
    target = folder() / name
    with open(target, "xb") as fh:
        fh.write(data)
    target.chmod(0o600)
    return name, hashlib.sha256(data).hexdigest()


def discard(names: list[str]) -> None:
    for name in names:
        (folder() / name).unlink(missing_ok=True)


def read(storage_name: str) -> bytes:
    return (folder() / storage_name).read_bytes()
