"""The claim path runs no SQL: a burst of claims (won, refused, replayed, sold out) is decided by
Redis alone; SQL sees the vouchers only when the drainer persists them."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flashsale.models import Voucher

from .factories import create_sale, make_members, make_merchant


@pytest.fixture
def sql_log():
    """Every statement (and every transaction begun) on any engine in this process."""
    seen = []

    def statement(conn, cursor, sql, params, context, executemany):
        seen.append(sql)

    def begin(conn):
        seen.append("BEGIN")

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "begin", begin)
    yield seen
    event.remove(Engine, "before_cursor_execute", statement)
    event.remove(Engine, "begin", begin)


def test_a_burst_of_claims_runs_no_sql(app_ctx, client, claim, drain, sql_log):
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    _, owner = make_merchant()
    members = make_members(40)
    sale = create_sale(client, owner, total_stock=30, per_member_limit=1)
    from marketplace.extensions import db

    db.session.remove()  # the set-up's own session is closed; nothing is left open
    sql_log.clear()

    statuses = []
    for n, (_, token) in enumerate(members):
        statuses.append(claim(sale, token, key=f"burst-{n:04d}").status_code)
        statuses.append(claim(sale, token, key=f"burst-{n:04d}").status_code)  # a replay
        statuses.append(claim(sale, token).status_code)  # a second try: limit or sold out
    assert statuses.count(201) == 2 * 30  # 30 wins, each replayed once
    assert statuses.count(409) == 40 + 2 * 10
    assert sql_log == [], sql_log[:5]

    drain()  # the drainer, not the claim, writes SQL
    assert any("INSERT INTO vouchers" in sql for sql in sql_log)
    assert db.session.scalar(db.select(db.func.count()).select_from(Voucher)) == 30
