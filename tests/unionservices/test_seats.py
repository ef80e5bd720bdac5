"""Course seats and appointment slots on the stock engine: hold, confirm, expiry returns the
seat, cancellation before the deadline returns it, the roster, and races that never overbook
(gunicorn over HTTP on the standalone server, and on a 3-master Redis Cluster)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.models import utcnow
from unionservices import seats
from unionservices.models import Booking, Slot

from .conftest import bearer, create_service, make_member

COURSE = {"kind": "course", "title": "电工技能培训", "title_en": "Electrician course",
          "rules": {"active_card": True}, "prepare": ["身份证"]}  # fmt: skip


def slot_body(capacity=3, hold_seconds=300, starts_in=timedelta(days=7),
              cancel_before=timedelta(days=1)):  # fmt: skip
    starts = utcnow() + starts_in
    return {"label": "第1期", "location": "市职工学校", "capacity": capacity,
            "hold_seconds": hold_seconds, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=3)).isoformat(),
            "booking_opens_at": (utcnow() - timedelta(minutes=1)).isoformat(),
            "cancel_deadline": (starts - cancel_before).isoformat()}  # fmt: skip


def make_slot(client, admin, **kw):
    service = create_service(client, admin, COURSE)
    resp = client.post(f"/api/v1/admin/services/{service['id']}/slots", headers=bearer(admin),
                       json=slot_body(**kw))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return service, resp.get_json()


def book(client, token, slot_id, key=None):
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    return client.post(f"/api/v1/slots/{slot_id}/bookings", headers=headers)


def test_hold_confirm_cancel_and_the_roster(client, admin):
    service, slot = make_slot(client, admin, capacity=2)
    assert slot["free"] == 2
    tokens = [make_member()[1] for _ in range(3)]
    first = book(client, tokens[0], slot["id"], key="k-first-1")
    assert first.status_code == 201 and first.get_json()["state"] == "held"
    assert (
        book(client, tokens[0], slot["id"], key="k-first-1").get_json()["id"]
        == (first.get_json()["id"])
    )  # a retry with the same key: the same booking
    again = book(client, tokens[0], slot["id"])
    assert again.status_code == 409 and again.get_json()["code"] == "already_booked"
    assert book(client, tokens[1], slot["id"]).status_code == 201
    full = book(client, tokens[2], slot["id"])
    assert full.status_code == 409 and full.get_json()["code"] == "slot_full"
    bid = first.get_json()["id"]
    ok = client.post(f"/api/v1/service-bookings/{bid}/confirm", headers=bearer(tokens[0]))
    assert ok.get_json()["state"] == "confirmed"
    other = client.post(f"/api/v1/service-bookings/{bid}/cancel", headers=bearer(tokens[1]))
    assert other.status_code == 404  # another member's booking
    roster = client.get(f"/api/v1/admin/slots/{slot['id']}/roster", headers=bearer(admin))
    assert sorted(b["state"] for b in roster.get_json()) == ["confirmed", "held"]
    cancelled = client.post(f"/api/v1/service-bookings/{bid}/cancel", headers=bearer(tokens[0]))
    assert cancelled.get_json()["state"] == "cancelled"
    assert book(client, tokens[2], slot["id"]).status_code == 201  # the seat came back
    slots = client.get(f"/api/v1/services/{service['id']}/slots", headers=bearer(tokens[0]))
    assert slots.get_json()[0]["free"] == 0


def test_an_unconfirmed_hold_returns_its_seat(app_ctx, client, admin):
    _service, slot = make_slot(client, admin, capacity=1, hold_seconds=30)
    _m, late, _c = make_member()
    _m, next_one, _c = make_member()
    held = book(client, late, slot["id"]).get_json()
    assert book(client, next_one, slot["id"]).get_json()["code"] == "slot_full"
    # Let the hold run out: move the engine's deadline into the past through its public sweep.
    engine = seats.get_engine()
    expired = engine.expire_holds(f"slot-{slot['id']}", now=time.time() + 31)
    assert len(expired) == 1
    confirm = client.post(f"/api/v1/service-bookings/{held['id']}/confirm", headers=bearer(late))
    assert confirm.status_code == 409 and confirm.get_json()["code"] == "hold_expired"
    db.session.expire_all()
    assert db.session.get(Booking, held["id"]).state == "expired"
    assert book(client, next_one, slot["id"]).status_code == 201


def test_the_sweep_job_expires_due_holds_in_sql_too(app_ctx, client, admin):
    _service, slot = make_slot(client, admin, capacity=1, hold_seconds=30)
    _m, token, _c = make_member()
    held = book(client, token, slot["id"]).get_json()
    assert seats.sweep()["expired"] == 0  # not due yet
    assert seats.sweep(now=time.time() + 31) == {"slots": 1, "expired": 1}
    db.session.expire_all()
    assert db.session.get(Booking, held["id"]).state == "expired"
    assert seats.free_seats(db.session.get(Slot, slot["id"])) == 1


def test_cancelling_after_the_deadline_is_refused(client, admin):
    _service, slot = make_slot(
        client,
        admin,
        capacity=1,
        starts_in=timedelta(hours=2),
        cancel_before=timedelta(hours=3) - timedelta(hours=0),
    )
    assert slot  # the deadline (one hour ago) is before the start: accepted
    _m, token, _c = make_member()
    bid = book(client, token, slot["id"]).get_json()["id"]
    client.post(f"/api/v1/service-bookings/{bid}/confirm", headers=bearer(token))
    late = client.post(f"/api/v1/service-bookings/{bid}/cancel", headers=bearer(token))
    assert late.status_code == 409 and late.get_json()["code"] == "cancel_deadline_passed"
    assert db.session.get(Booking, bid).state == "confirmed"


def test_a_pool_redis_lost_is_rebuilt_from_the_bookings(app_ctx, client, admin):
    _service, slot = make_slot(client, admin, capacity=2)
    _m, a, _c = make_member()
    _m, b, _c = make_member()
    _m, c, _c = make_member()
    bid = book(client, a, slot["id"]).get_json()["id"]
    client.post(f"/api/v1/service-bookings/{bid}/confirm", headers=bearer(a))
    seats.get_engine().retire_pool(f"slot-{slot['id']}")  # Redis lost it
    assert book(client, a, slot["id"]).get_json()["code"] == "already_booked"
    assert book(client, b, slot["id"]).status_code == 201
    assert book(client, c, slot["id"]).get_json()["code"] == "slot_full"


def test_bad_slots_and_ineligible_members_change_nothing(client, admin):
    service = create_service(client, admin, COURSE)
    url = f"/api/v1/admin/services/{service['id']}/slots"
    body = slot_body()
    bad = client.post(url, headers=bearer(admin), json=body | {"ends_at": body["starts_at"]})
    assert bad.status_code == 422
    aid = create_service(client, admin, {"kind": "aid", "title": "救助"})
    wrong = client.post(f"/api/v1/admin/services/{aid['id']}/slots", headers=bearer(admin),
                        json=body)  # fmt: skip
    assert wrong.get_json()["code"] == "not_bookable"
    assert db.session.scalar(select(func.count()).select_from(Slot)) == 0
    _service, slot = make_slot(client, admin)
    _m, inactive, _c = make_member(active=False)
    refused = book(client, inactive, slot["id"])
    assert refused.status_code == 403 and refused.get_json()["code"] == "not_eligible"
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def _race(base, slot_id, tokens):
    barrier = threading.Barrier(len(tokens))

    def go(token):
        barrier.wait(timeout=30)
        return requests.post(
            f"{base}/api/v1/slots/{slot_id}/bookings", headers=bearer(token), timeout=60
        )

    with ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(go, tokens))


def _check_race(answers, slot_id, capacity, engine):
    codes = sorted((r.status_code, r.json().get("code")) for r in answers)
    assert codes == [(201, None)] * capacity + [(409, "slot_full")] * (len(answers) - capacity)
    db.session.expire_all()
    live = db.session.scalar(select(func.count()).select_from(Booking).where(
        Booking.slot_id == slot_id, Booking.state.in_(("held", "confirmed"))))  # fmt: skip
    assert live == capacity
    stats = engine.stats(f"slot-{slot_id}")
    assert (stats.remaining, stats.held) == (0, capacity)


def test_many_members_booking_one_course_never_overbook(app_ctx, live_server, client, admin):
    _service, slot = make_slot(client, admin, capacity=5)
    tokens = [make_member()[1] for _ in range(24)]
    answers = _race(live_server, slot["id"], tokens)
    _check_race(answers, slot["id"], 5, seats.get_engine())


@pytest.mark.cluster
def test_many_members_booking_one_course_on_the_cluster(app_ctx, app_config, redis_cluster,
                                                         client, admin):  # fmt: skip
    from redis.cluster import RedisCluster

    from inventory import StockEngine
    from marketplace.engines import namespace_for
    from tests.conftest import gunicorn_server

    host, port = redis_cluster.startup_nodes[0]
    config = dict(app_config, REDIS_URL=f"redis+cluster://{host}:{port}")
    cluster = RedisCluster(host=host, port=port)
    cluster.flushall(target_nodes=RedisCluster.ALL_NODES)
    engine = StockEngine(cluster, namespace=namespace_for(seats.FEATURE))
    service = create_service(client, admin, COURSE)
    # The slot's pool is opened on the cluster: the app under test books through it there.
    slot = Slot(service_id=service["id"], label="集群", capacity=4, hold_seconds=300,
                starts_at=utcnow() + timedelta(days=3), ends_at=utcnow() + timedelta(days=3,
                hours=2), booking_opens_at=utcnow() - timedelta(minutes=1),
                cancel_deadline=utcnow() + timedelta(days=2))  # fmt: skip
    db.session.add(slot)
    db.session.commit()
    seats.open_pool(engine, slot)
    tokens = [make_member()[1] for _ in range(20)]
    try:
        with gunicorn_server(config) as base:
            answers = _race(base, slot.id, tokens)
        _check_race(answers, slot.id, 4, engine)
    finally:
        cluster.flushall(target_nodes=RedisCluster.ALL_NODES)
        cluster.close()


def test_booking_through_the_pages_and_the_roster(client, admin):
    from .test_pages import get, login, post

    service = create_service(client, admin, COURSE)
    login(client, "cityadmin")
    page = f"/admin/services/{service['id']}/slots"
    made = post(client, page, page, {
        "label": "第2期", "location": "市职工学校", "capacity": "2", "hold_minutes": "5",
        "booking_opens_at": "2020-01-01T09:00", "starts_at": "2040-03-01T09:00",
        "ends_at": "2040-03-01T12:00", "cancel_deadline": "2040-02-28T18:00"})  # fmt: skip
    assert made.status_code == 302
    slot = db.session.scalars(select(Slot)).one()
    assert slot.starts_at.hour == 1  # 09:00 in Beijing is 01:00 UTC
    _m, _token, card = make_member()
    login(client, card)
    detail = f"/m/services/{service['id']}"
    assert 'data-testid="book"' in get(client, detail).get_data(as_text=True)
    assert post(client, detail, f"/m/services/slots/{slot.id}/book", {}).status_code == 302
    again = post(client, detail, f"/m/services/slots/{slot.id}/book", {})
    assert again.status_code == 409 and 'data-code="already_booked"' in again.get_data(
        as_text=True)  # fmt: skip
    booking = db.session.scalars(select(Booking)).one()
    hub = get(client, "/m/services").get_data(as_text=True)
    assert 'data-state="held"' in hub
    post(client, "/m/services", f"/m/services/bookings/{booking.id}/confirm", {})
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).state == "confirmed"
    login(client, "cityadmin")
    roster = get(client, f"/admin/slots/{slot.id}/roster").get_data(as_text=True)
    assert "长安区总工会" in roster and 'data-testid="free">1<' in roster
    login(client, card)
    post(client, "/m/services", f"/m/services/bookings/{booking.id}/cancel", {})
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).state == "cancelled"
