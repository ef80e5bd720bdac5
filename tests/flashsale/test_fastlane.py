"""The fast lane (marketplace/fastlane.py) answers exactly what Flask answers.

Each request is sent twice, once with the lane on and once with it off (``FASTLANE``), with the
same ``X-Request-ID``, and the two answers must agree in status, body and headers. Claims are
idempotent, so a repeated key gives the first answer in both lanes; refusals that change
nothing (sold out, limit reached, not eligible ...) are compared on fresh keys. The lane's
``served`` count shows which requests it answered and which it handed to Flask.
"""

from datetime import timedelta

import pytest

from marketplace.models import utcnow

from .factories import bearer, create_sale, make_members, make_merchant

RID = "parity-request-0001"
VOLATILE = {"date", "content-length"}  # Date moves; Content-Length is compared through the body


def post(client, path, token=None, key=None, **kw):
    headers = {"X-Request-ID": RID}
    if token:
        headers.update(bearer(token))
    if key:
        headers["Idempotency-Key"] = key
    headers.update(kw.pop("headers", {}))
    return client.post(path, headers=headers, **kw)


def both(app, client, *args, fast_answers=True, **kw):
    """The request through the lane, then through Flask; whether the lane answered it."""
    lane = app.extensions["fastlane"]
    before = lane.served
    app.config["FASTLANE"] = True
    fast = post(client, *args, **kw)
    answered = lane.served - before
    app.config["FASTLANE"] = False
    try:
        slow = post(client, *args, **kw)
    finally:
        app.config["FASTLANE"] = True
    assert answered == (1 if fast_answers else 0)
    return fast, slow


def assert_same(fast, slow):
    assert fast.status_code == slow.status_code, (fast.data, slow.data)
    assert fast.data == slow.data
    assert fast.headers["Content-Length"] == slow.headers["Content-Length"]
    names = {n.lower() for n, _ in fast.headers} - VOLATILE
    assert names == {n.lower() for n, _ in slow.headers} - VOLATILE
    for name in names:
        assert fast.headers.get_all(name) == slow.headers.get_all(name), name


@pytest.fixture
def world(app, app_ctx, client):
    _, owner = make_merchant()
    members = make_members(3)
    ((_, inactive),) = make_members(1, start=10, active=False)
    ((_, elsewhere),) = make_members(1, start=20, region="110101")
    sale = create_sale(client, owner, total_stock=2, regions=["310101"])
    return {"owner": owner, "members": [t for _, t in members], "inactive": inactive,
            "elsewhere": elsewhere, "sale": sale}  # fmt: skip


def test_a_claim_and_its_repeats_agree(app, client, world):
    path = f"/api/v1/flashsales/{world['sale']}/claims"
    token = world["members"][0]
    app.config["FASTLANE"] = True
    lane = app.extensions["fastlane"]
    won = post(client, path, token, "key-parity-1")
    assert won.status_code == 201 and lane.served == 1
    assert won.headers["X-Request-ID"] == RID
    assert won.headers["Content-Security-Policy"] and won.headers["X-Frame-Options"] == "DENY"
    fast, slow = both(app, client, path, token, "key-parity-1")  # the replay, both lanes
    assert_same(fast, slow)
    assert fast.get_json() == won.get_json()
    # limit reached: a fresh key each, same refusal
    fast = post(client, path, token, "key-parity-2")
    app.config["FASTLANE"] = False
    slow = post(client, path, token, "key-parity-3")
    app.config["FASTLANE"] = True
    assert_same(fast, slow)
    assert fast.get_json()["code"] == "limit_reached"


def test_refusals_agree(app, client, world):
    sale = world["sale"]
    path = f"/api/v1/flashsales/{sale}/claims"
    cases = [
        (world["inactive"], "key-inactive-1", 403, "card_inactive"),
        (world["elsewhere"], "key-elsewhere-1", 403, "not_eligible"),
        (world["members"][0], None, 400, "idempotency_key_required"),
        (world["members"][0], "bad key!", 400, "idempotency_key_invalid"),
    ]
    for token, key, status, code in cases:
        fast, slow = both(app, client, path, token, key)
        assert_same(fast, slow)
        assert (fast.status_code, fast.get_json()["code"]) == (status, code)
        assert fast.headers["Content-Type"] == "application/problem+json"
    unknown = "/api/v1/flashsales/987654/claims"
    fast, slow = both(app, client, unknown, world["members"][0], "k-404-01")
    assert_same(fast, slow)
    assert fast.get_json()["code"] == "not_found"


def test_sold_out_and_not_started_agree(app, client, world):
    path = f"/api/v1/flashsales/{world['sale']}/claims"
    first, second, third = world["members"]
    assert post(client, path, first, "key-sold-1").status_code == 201
    assert post(client, path, second, "key-sold-2").status_code == 201
    for attempt in range(3):  # the engine's answer, then the process's sold-out flag
        fast, slow = both(app, client, path, third, f"key-sold-out-{attempt}")
        assert_same(fast, slow)
        assert fast.get_json()["code"] == "sold_out"
    fast, slow = both(app, client, path, second, "key-sold-2")  # a winner's repeat after sell-out
    assert_same(fast, slow)
    assert fast.status_code == 201
    now = utcnow()
    later = create_sale(client, world["owner"], starts_at=(now + timedelta(hours=1)).isoformat(),
                        ends_at=(now + timedelta(hours=2)).isoformat())  # fmt: skip
    fast = post(client, f"/api/v1/flashsales/{later}/claims", first, "key-later-1")
    app.config["FASTLANE"] = False
    slow = post(client, f"/api/v1/flashsales/{later}/claims", first, "key-later-1")
    app.config["FASTLANE"] = True
    # server_time differs by the time between the two requests: compare the rest
    f, s = fast.get_json(), slow.get_json()
    assert f.pop("server_time") and s.pop("server_time")
    assert (fast.status_code, f) == (slow.status_code, s) and f["code"] == "not_started"


def test_rate_limited_agrees(app, client, world):
    app.config["FLASHSALE_CLAIM_RATE"] = "1"
    app.config["FLASHSALE_CLAIM_BURST"] = "1"
    path = f"/api/v1/flashsales/{world['sale']}/claims"
    token = world["members"][1]
    answers = [post(client, path, token, f"key-rl-{i}") for i in range(3)]
    assert answers[0].status_code in (201, 409)
    limited = [a for a in answers[1:] if a.status_code == 429]
    assert limited and limited[0].get_json()["code"] == "rate_limited"
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_what_the_lane_hands_to_flask(app, client, world):
    """Unusual requests get Flask's own answer: the lane answers none of them."""
    path = f"/api/v1/flashsales/{world['sale']}/claims"
    token = world["members"][2]
    cases = [
        dict(token=None, key="key-flask-01"),  # no token: 401
        dict(token="not-a-token", key="key-flask-02"),  # bad token: 401
        dict(token=world["owner"], key="key-flask-03"),  # a merchant: 403
        dict(
            token=token, key="key-flask-04", data="x=1", headers={"Content-Type": "text/plain"}
        ),  # a body: 415  # fmt: skip
        dict(token=token, key="key-flask-05", query_string="a=%00"),  # a query string
    ]
    statuses = []
    for case in cases:
        token_ = case.pop("token")
        key = case.pop("key")
        fast, slow = both(app, client, path, token_, key, fast_answers=False, **case)
        if fast.status_code != 201:
            assert_same(fast, slow)
        statuses.append(fast.status_code)
    assert statuses[:4] == [401, 401, 403, 415]
    assert statuses[4] in (400, 422)
    for odd in ("/api/v1/flashsales/0/claims", "/api/v1/flashsales/01/claims",
                f"/api/v1/flashsales/{world['sale']}/claims/"):  # fmt: skip
        fast, slow = both(app, client, odd, token, "key-flask-06", fast_answers=False)
        assert_same(fast, slow)


def test_the_lane_off_means_flask_answers_everything(app, client, world):
    app.config["FASTLANE"] = False
    lane = app.extensions["fastlane"]
    path = f"/api/v1/flashsales/{world['sale']}/claims"
    r = post(client, path, world["members"][0], "key-off-01")
    assert r.status_code == 201 and lane.served == 0


def get(client, path, token, **headers):
    return client.get(path, headers={"X-Request-ID": RID, **bearer(token), **headers})


def without_clock(response):
    """The answer minus the server's clock, which moves between two requests."""
    data = response.get_json() if response.data else None
    if isinstance(data, dict):
        data.pop("server_time", None)
        for item in data.get("items", []):
            item.pop("server_time", None)
    skip = VOLATILE | {"server-time"}
    headers = {n.lower(): v for n, v in response.headers if n.lower() not in skip}
    return response.status_code, data, headers


@pytest.mark.parametrize("query", ["", "?page=1&per_page=5"])
def test_polls_agree_and_misses_go_to_flask(app, client, world, query):
    lane = app.extensions["fastlane"]
    token = world["members"][0]
    for path in (f"/api/v1/flashsales/{world['sale']}", "/api/v1/flashsales" + query):
        lane.served = 0
        first = get(client, path, token)  # a miss: Flask builds and caches the body
        assert first.status_code == 200 and lane.served == 0
        hit = get(client, path, token)
        assert lane.served == 1 and "Server-Time" in hit.headers
        app.config["FASTLANE"] = False
        slow = get(client, path, token)
        app.config["FASTLANE"] = True
        assert without_clock(hit) == without_clock(slow)
        assert hit.headers["ETag"] == first.headers["ETag"]
        tag = hit.headers["ETag"]
        fast304 = get(client, path, token, **{"If-None-Match": tag})
        app.config["FASTLANE"] = False
        slow304 = get(client, path, token, **{"If-None-Match": tag})
        app.config["FASTLANE"] = True
        assert fast304.status_code == slow304.status_code == 304 and lane.served == 2
        assert without_clock(fast304) == without_clock(slow304)
        assert fast304.data == b"" and "Content-Length" not in fast304.headers
    # a merchant may not browse the member API: Flask's 403, from either lane
    fast, slow = (get(client, f"/api/v1/flashsales/{world['sale']}", world["owner"]) for _ in "ab")
    assert fast.status_code == slow.status_code


def test_polls_of_a_draft_or_unknown_sale_are_flasks(app, client, world):
    lane = app.extensions["fastlane"]
    token = world["members"][0]
    lane.served = 0
    for _ in range(2):
        r = get(client, "/api/v1/flashsales/987654", token)
        assert r.status_code == 404 and r.get_json()["code"] == "not_found"
    assert lane.served == 0


def test_the_waiting_room_status_agrees(app, client, world):
    from .roomkit import join, queue_sale

    lane = app.extensions["fastlane"]
    sale = queue_sale(client, world["owner"], total_stock=5, admission_rate=0.1)
    tokens = world["members"]
    for token in tokens:
        assert join(client, sale, token).status_code == 200
    path = f"/api/v1/flashsales/{sale}/queue/me"
    moving = {"server_time_ms", "estimated_wait_seconds", "poll_after_seconds"}

    def same(fast, slow):
        f, s = fast.get_json(), slow.get_json()
        assert {k: v for k, v in f.items() if k not in moving} == {
            k: v for k, v in s.items() if k not in moving
        }
        skip = VOLATILE
        assert {n.lower(): v for n, v in fast.headers if n.lower() not in skip} == {
            n.lower(): v for n, v in slow.headers if n.lower() not in skip
        }

    for token in tokens:
        lane.served = 0
        fast = get(client, path, token)
        app.config["FASTLANE"] = False
        slow = get(client, path, token)
        app.config["FASTLANE"] = True
        assert lane.served == 1 and fast.status_code == slow.status_code == 200
        same(fast, slow)
        ticket = fast.get_json().get("place_ticket")
        if ticket:  # a waiting member's poll with its place ticket, both lanes
            fast = get(client, path, token, **{"Queue-Place": ticket})
            app.config["FASTLANE"] = False
            slow = get(client, path, token, **{"Queue-Place": ticket})
            app.config["FASTLANE"] = True
            same(fast, slow)
    # not a queue sale: the same problem from both lanes
    other = f"/api/v1/flashsales/{world['sale']}/queue/me"
    fast = get(client, other, tokens[0])
    app.config["FASTLANE"] = False
    slow = get(client, other, tokens[0])
    app.config["FASTLANE"] = True
    assert fast.status_code == slow.status_code and fast.data == slow.data
    assert fast.status_code >= 400
