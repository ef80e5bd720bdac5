import itertools

import pytest

from .factories import bearer

_keys = itertools.count()


@pytest.fixture
def claim(client):
    """POST a claim; a fresh Idempotency-Key unless one is given."""

    def post(campaign_id, token, key=None, c=None):
        key = key or f"key-{next(_keys):08d}"
        return (c or client).post(
            f"/api/v1/flashsales/{campaign_id}/claims",
            headers={**bearer(token), "Idempotency-Key": key},
        )

    return post


@pytest.fixture
def drain(app_ctx):
    """Run one drain pass in-process (the worker tests run it through RQ)."""
    from flashsale.jobs import drain_outbox

    return lambda: drain_outbox(kind="test")
