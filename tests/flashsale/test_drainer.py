"""The low-latency drainer loop (``flashsale.jobs.follow``) in-process, on a thread: it persists
claims and cancels as they come, trims what it persisted, reports itself, and first takes back
what a predecessor of the same name (or a dead worker) left pending. Outages: tests/platform."""

from __future__ import annotations

import contextlib
import threading
import time

from sqlalchemy import select

from flashsale.hotpath import get_engine
from flashsale.jobs import GROUP, drainer_name, follow
from flashsale.models import Voucher
from inventory import OutboxConsumer
from marketplace.extensions import db, get_redis
from marketplace.heartbeats import read

from .factories import bearer, create_sale, make_members, make_merchant


def wait_for(predicate, timeout: float = 15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@contextlib.contextmanager
def running_drainer(app):
    stop = threading.Event()

    def run():
        with app.app_context():
            follow(stop=stop.is_set, idle_sleep=0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive(), "the drainer did not stop when asked"


def statuses() -> dict[str, str]:
    db.session.rollback()
    return dict(db.session.execute(select(Voucher.code, Voucher.status)).all())


def stream_lengths(sale: int) -> list[int]:
    client = get_redis()
    return [client.xlen(key) for key in get_engine().outbox_streams(str(sale))]


def test_follow_persists_claims_and_cancels_of_every_sale_as_they_come(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_CLAIM_RATE=1000)
    _, owner = make_merchant()
    members = make_members(3)
    one, two = create_sale(client, owner), create_sale(client, owner, total_stock=5)
    with running_drainer(app):
        codes = []
        for sale in (one, two):
            for _, token in members:
                resp = claim(sale, token)
                assert resp.status_code == 201, resp.get_json()
                codes.append(resp.get_json()["voucher"]["code"])
        assert wait_for(lambda: len(statuses()) == 6), statuses()
        assert set(statuses()) == set(codes)
        # Persisted means acknowledged and trimmed: the streams keep nothing behind.
        assert wait_for(lambda: stream_lengths(one) + stream_lengths(two) == [0, 0])
        mark = wait_for(lambda: read("drainer"))
        assert mark["state"] == "ok" and mark["consumer"] == drainer_name()
        assert wait_for(lambda: read("drainer")["lag"] == "0"), read("drainer")

        token = members[0][1]
        resp = client.post(f"/api/v1/me/vouchers/{codes[0]}/cancel", headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
        assert wait_for(lambda: statuses()[codes[0]] == "cancelled"), statuses()
        assert sorted(statuses().values()) == ["cancelled"] + ["issued"] * 5


def _claim_all(claim, sale, members) -> set[str]:
    codes = set()
    for _, token in members:
        resp = claim(sale, token)
        assert resp.status_code == 201, resp.get_json()
        codes.add(resp.get_json()["voucher"]["code"])
    return codes


def test_follow_first_persists_what_its_predecessor_left_pending(app, app_ctx, client, claim):
    """A drainer killed after reading and before acknowledging leaves entries pending under its
    (stable) name; its successor persists them at start, long before they count as idle."""
    app.config.update(FLASHSALE_CLAIM_RATE=1000, FLASHSALE_RECOVER_IDLE_MS=3_600_000)
    _, owner = make_merchant()
    sale = create_sale(client, owner)
    codes = _claim_all(claim, sale, make_members(4))
    predecessor = OutboxConsumer(get_engine(), group=GROUP, consumer=drainer_name())
    assert len(predecessor.read(str(sale), count=100)) == 4  # read, never acknowledged
    assert predecessor.pending(str(sale)) == 4
    with running_drainer(app):
        assert wait_for(lambda: set(statuses()) == codes, 10), statuses()
        assert wait_for(lambda: predecessor.pending(str(sale)) == 0)


def test_follow_acknowledges_what_its_predecessor_left_pending_and_the_stream_lost(
    app, app_ctx, client, claim
):
    """Entries pending under the drainer's name whose data left the stream meanwhile (trimmed or
    deleted: nothing to persist) are acknowledged at start, not left pending for ever, and the
    rest are persisted (found by mutation testing: that branch had no test)."""
    app.config.update(FLASHSALE_CLAIM_RATE=1000, FLASHSALE_RECOVER_IDLE_MS=3_600_000)
    _, owner = make_merchant()
    sale = create_sale(client, owner)
    codes = _claim_all(claim, sale, make_members(4))
    predecessor = OutboxConsumer(get_engine(), group=GROUP, consumer=drainer_name())
    read = predecessor.read(str(sale), count=100)
    assert len(read) == 4 and predecessor.pending(str(sale)) == 4
    (stream,) = get_engine().outbox_streams(str(sale))
    gone = read[:2]
    assert get_redis().xdel(stream, *[e.id for e in gone]) == 2
    kept = {e.fields["code"] for e in read[2:]}
    with running_drainer(app):
        assert wait_for(lambda: predecessor.pending(str(sale)) == 0, 10), predecessor.pending(
            str(sale)
        )
        assert wait_for(lambda: set(statuses()) == kept, 10), statuses()
    assert kept < codes


def test_follow_takes_over_entries_a_dead_worker_left_pending(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_CLAIM_RATE=1000, FLASHSALE_RECOVER_IDLE_MS=100)
    _, owner = make_merchant()
    sale = create_sale(client, owner)
    codes = _claim_all(claim, sale, make_members(3))
    dead = OutboxConsumer(get_engine(), group=GROUP, consumer="rq-gone-1")
    assert len(dead.read(str(sale), count=100)) == 3
    time.sleep(0.2)  # idle longer than FLASHSALE_RECOVER_IDLE_MS
    with running_drainer(app):
        assert wait_for(lambda: set(statuses()) == codes, 10), statuses()
        assert wait_for(lambda: dead.pending(str(sale)) == 0)


def test_a_pass_says_whether_a_batch_was_full_so_the_loop_lingers_only_when_it_was_not(
    app, app_ctx, client, claim
):
    """``follow`` waits ``linger`` after a pass that filled no batch (issue #13: at 2,000 claims/s
    passes of a handful of rows cost the web processes 0.12 ms of drainer CPU per claim) and
    goes on at once after a full one, where more are waiting."""
    from flashsale.jobs import _follow_pass

    app.config.update(FLASHSALE_CLAIM_RATE=1000)
    _, owner = make_merchant()
    members = make_members(5)
    sale = create_sale(client, owner, total_stock=10)
    for _, token in members:
        assert claim(sale, token).status_code == 201
    consumer = OutboxConsumer(get_engine(), group=GROUP, consumer=drainer_name("t"))
    assert _follow_pass(consumer, 3, 60_000, False, False) == (3, True)
    assert _follow_pass(consumer, 3, 60_000, False, False) == (2, False)
    assert _follow_pass(consumer, 3, 60_000, False, False) == (0, False)
    assert len(statuses()) == 5


def test_a_lingering_drainer_still_stops_at_once(app, app_ctx, client, claim):
    """The wait after a small batch is cut short by a stop request (SIGTERM must not wait it)."""
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    stop = threading.Event()

    def run():
        with app.app_context():
            follow(stop=stop.is_set, idle_sleep=0.01, linger=30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert claim(sale, token).status_code == 201
    assert wait_for(lambda: len(statuses()) == 1)  # one row: not a full batch, so it lingers
    started = time.monotonic()
    stop.set()
    thread.join(15)
    assert not thread.is_alive() and time.monotonic() - started < 5


def test_each_kind_of_drainer_reads_under_its_own_consumer_name(app_ctx):
    """The RQ job's and the CLI's consumers are named by kind, host and pid, so each re-reads
    only its own pending entries (mutation testing: a consumer left at the default name
    survived)."""
    from flashsale.jobs import _consumer, consumer_name

    rq, cli = _consumer("rq"), _consumer("cli")
    assert (rq.consumer, cli.consumer) == (consumer_name("rq"), consumer_name("cli"))
    assert rq.consumer != cli.consumer and rq.group == cli.group == GROUP
    assert _consumer("rq") is rq  # one per kind and process
