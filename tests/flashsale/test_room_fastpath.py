"""The status call answered from a process's snapshot of the room: a waiting member who sends
back its place ticket costs no Redis call, gets the same answer, and everything that is not
plain waiting (admitted, a bad or another member's ticket) still goes through the script."""

from __future__ import annotations

import time

from flashsale import room
from marketplace.extensions import get_redis

from .factories import bearer, make_members, make_merchant
from .roomkit import join, me, queue_sale


def evalsha_calls() -> int:
    return int(get_redis().info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))


def poll(client, sale, token, ticket=None):
    headers = bearer(token)
    if ticket:
        headers[room.PLACE_HEADER] = ticket
    return client.get(f"/api/v1/flashsales/{sale}/queue/me", headers=headers)


def test_waiting_members_are_answered_from_the_snapshot(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(6)
    sale = queue_sale(client, owner, total_stock=5, admission_rate=0.1)  # nobody let in for 10 s
    for _, token in members:
        assert join(client, sale, token).status_code == 200
    (_, token), (_, other) = members[-1], members[0]
    first = me(client, sale, token).get_json()
    assert first["state"] == "waiting" and first["place"] == 6 and first["place_ticket"]
    ticket = first["place_ticket"]

    before = evalsha_calls()
    answers = [poll(client, sale, token, ticket).get_json() for _ in range(30)]
    used = evalsha_calls() - before
    assert used <= 2, used  # the snapshot's refresh (every 0.25 s), not one per poll
    slow = poll(client, sale, token).get_json()  # the script's answer, for comparison
    assert slow["state"] == "waiting" and slow["admitted"] == 1  # the first place is let in
    same = (
        "state",
        "place",
        "ahead",
        "admitted",
        "queued",
        "remaining",
        "pass",
        "estimated_wait_seconds",
        "likely_sold_out",
        "place_ticket",
        "starts_at_ms",
    )
    for a in answers:
        assert {k: a[k] for k in same} == {k: slow[k] for k in same}
        assert abs(a["server_time_ms"] - slow["server_time_ms"]) < 2000
    before = evalsha_calls()
    for _ in range(5):
        poll(client, sale, token)
    assert evalsha_calls() - before >= 5  # without the ticket: the script every time

    # Another member's ticket does not move anyone: the caller's own place is looked up.
    mine = poll(client, sale, other, ticket).get_json()
    assert mine["place"] == 1 and mine["state"] == "admitted"
    forged = ticket[:-3] + ("AAA" if not ticket.endswith("AAA") else "BBB")
    assert poll(client, sale, token, forged).get_json()["place"] == 6
    assert poll(client, sale, token, "p.1.2.3").get_json()["place"] == 6
    # A place ticket is not a pass, and a pass is not a place ticket.
    claim = client.post(f"/api/v1/flashsales/{sale}/claims",
                        headers={**bearer(token), "Idempotency-Key": "ticket-as-pass",
                                 "Queue-Pass": ticket})  # fmt: skip
    assert claim.status_code == 403 and claim.get_json()["code"] == "pass_invalid"


def test_admitted_members_still_get_their_pass(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = queue_sale(client, owner, total_stock=5, admission_rate=500)
    join(client, sale, token)
    time.sleep(0.05)
    body = me(client, sale, token).get_json()
    deadline = time.monotonic() + 5
    while body["state"] != "admitted" and time.monotonic() < deadline:
        time.sleep(0.1)
        body = me(client, sale, token).get_json()
    assert body["state"] == "admitted"
    again = poll(client, sale, token, body["place_ticket"]).get_json()
    assert again["state"] == "admitted" and again["pass"]  # decided by the script


def test_no_ticket_before_the_start(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = queue_sale(client, owner, starts_in=30, total_stock=5)
    body = join(client, sale, token).get_json()
    assert body["state"] == "waiting" and body["place_ticket"] is None
