"""A real server for the fuzz suite: gunicorn on the session's database and Redis, with one
admin, one merchant (owner and clerk), one member and a live sale to aim at.

Module-scoped: starting gunicorn per API operation would cost more than the fuzzing itself.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.conftest import _clean_database, gunicorn_server

ROLES = ("anonymous", "member", "owner", "admin")
STATS: Counter = Counter()  # (role, status) -> cases sent; printed at the end of the run
POSITIVE: Counter = Counter()  # status -> schema-valid cases among them


@pytest.fixture(scope="module")
def fuzz_server(app_config, _schema):
    """(base URL, {role: bearer token or None}) of a seeded gunicorn."""
    from marketplace.auth.models import Account
    from marketplace.auth.tokens import publish_versions
    from marketplace.extensions import db, get_redis, get_rq_redis
    from shihui import create_app
    from tests.flashsale.factories import _hash, create_sale, make_members, make_merchant, token_for

    app = create_app(app_config)
    with app.app_context():
        get_redis().flushdb()
        get_rq_redis().flushdb()
        admin = Account(username="root", role="admin", password_hash=_hash())
        db.session.add(admin)
        db.session.commit()
        publish_versions([(admin.id, 0)])
        _merchant_id, owner_token = make_merchant(username="owner1")
        _member_id, member_token = make_members(1)[0]
        create_sale(app.test_client(), owner_token)
        tokens = {
            "anonymous": None,
            "member": member_token,
            "owner": owner_token,
            "admin": token_for(admin),
        }
        db.session.remove()
        db.engine.dispose()

    try:
        with gunicorn_server(app_config, threads=4) as base:
            yield base, tokens
    finally:
        with app.app_context():
            _clean_database(db)
            get_redis().flushdb()
            get_rq_redis().flushdb()
            db.engine.dispose()


def max_examples() -> int:
    """``FUZZ_MAX_EXAMPLES`` (CI sets a larger number); small by default so `make test` stays
    quick while still sending every operation hostile input as every role."""
    return int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))


def pytest_terminal_summary(terminalreporter):
    if not STATS:
        return
    by_role: Counter = Counter()
    by_status: Counter = Counter()
    for (role, status), count in STATS.items():
        by_role[role] += count
        by_status[status] += count
    terminalreporter.write_sep("-", f"fuzz: {sum(STATS.values())} cases sent")
    terminalreporter.write_line("by role: " + ", ".join(f"{r} {n}" for r, n in by_role.items()))
    statuses = sorted(by_status.items(), key=lambda item: str(item[0]))
    terminalreporter.write_line("by status: " + ", ".join(f"{s} {n}" for s, n in statuses))
    positive = sorted(POSITIVE.items(), key=lambda item: str(item[0]))
    terminalreporter.write_line(
        f"schema-valid: {sum(POSITIVE.values())}, by status: "
        + ", ".join(f"{s} {n}" for s, n in positive)
    )
