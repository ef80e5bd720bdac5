"""Real time (issue #16 item 4) against the real process and a real Redis: a reply reaches the
member's open stream within a second, a message reaches the admins of every node on the
conversation's path and nobody else; tokens are checked; the stream survives a Redis restart of
its subscription (pages are told to resync); publishing never fails a request."""

from __future__ import annotations

import queue
import time
import urllib.error
import urllib.request

import pytest

from messaging import realtime
from messaging.realtime_server import serializer
from tests.members.helpers import bearer
from tests.orgs.helpers import branch_admin, build_tree, city_admin

from .realtime_kit import Stream, health, realtime_server

MINE = "/api/v1/messages/conversations"
STAFF = "/api/v1/admin/conversations"


@pytest.fixture
def rt(app, app_config):
    with realtime_server(app_config) as base:
        app.config["REALTIME_URL"] = base
        yield base


@pytest.fixture
def world(client, app_ctx, rt):
    w = build_tree(client)
    w["city"] = city_admin(client)
    w["adm_a"] = branch_admin(client, "admin-a", w["orgs"]["A"])
    w["adm_b"] = branch_admin(client, "admin-b", w["orgs"]["B"])
    w["adm_d1"] = branch_admin(client, "admin-d1", w["orgs"]["d1"])
    return w


def stream_for(client, token, path="/api/v1/messages/realtime") -> Stream:
    settings = client.get(path, headers=bearer(token)).get_json()
    assert settings["url"].endswith("/events") and settings["token"], settings
    s = Stream(f"{settings['url']}?t={settings['token']}")
    name, _data, _at = s.next(5)
    assert name == "ready"
    return s


def until_quiet(stream: Stream, seconds: float = 0.5) -> list:
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got.append(stream.next(max(0.01, end - time.monotonic())))
        except queue.Empty:
            break
    return got


def test_a_reply_reaches_the_members_open_stream_within_a_second(client, world):
    t = world["tokens"]
    cid = client.post(MINE, headers=bearer(t[1]), json={"body": "问"}).get_json()["id"]
    mine, other = stream_for(client, t[1]), stream_for(client, t[2])
    staff = {k: stream_for(client, world[k], "/api/v1/admin/realtime")
             for k in ("adm_a", "adm_b", "adm_d1", "city")}  # fmt: skip

    sent = time.monotonic()
    reply = {"body": "答"}
    resp = client.post(f"{STAFF}/{cid}/replies", headers=bearer(world["adm_a"]), json=reply)
    assert resp.status_code == 201
    name, data, arrived = mine.next(1.0)
    assert (name, data) == ("message", {"type": "reply", "conversation_id": cid})
    assert arrived - sent < 1.0
    # the admins on the path hear it too (their inbox changes); branch B and member 2 do not
    for k in ("adm_a", "adm_d1", "city"):
        assert staff[k].next(1.0)[1] == {"type": "reply", "conversation_id": cid}, k
    assert until_quiet(staff["adm_b"]) == [] and until_quiet(other) == []

    # a member's new message reaches the admins of every node on the path within a second
    sent = time.monotonic()
    client.post(f"{MINE}/{cid}/messages", headers=bearer(t[1]), json={"body": "再问"})
    for k in ("adm_a", "adm_d1", "city"):
        name, data, arrived = staff[k].next(1.0)
        assert data == {"type": "message", "conversation_id": cid} and arrived - sent < 1.0
    assert until_quiet(staff["adm_b"]) == []
    for s in (mine, other, *staff.values()):
        s.close()


def test_tokens_are_checked(client, world, rt):
    forged = serializer("another-secret-key-of-enough-length-xx").dumps(["m:1"])
    for bad in ("", "nonsense", forged):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{rt}/events?t={bad}", timeout=5)  # noqa: S310
        assert err.value.code == 401
    # a member cannot ask for another channel: the token names the channels, signed by the app
    settings = client.get("/api/v1/messages/realtime", headers=bearer(world["tokens"][1]))
    channels = serializer(client.application.config["SECRET_KEY"]).loads(
        settings.get_json()["token"]
    )
    orgs = world["orgs"]
    # their own channel and their announcement audiences: everyone, region, each node on the path
    assert channels == [f"m:{world['members'][1]}", "a:all", "a:region:130102",
                        *(f"a:org:{orgs[k]}" for k in ("city", "d1", "A"))]  # fmt: skip
    # the admin route is not for members, the member route not for admins
    assert client.get("/api/v1/admin/realtime",
                      headers=bearer(world["tokens"][1])).status_code == 403  # fmt: skip
    assert client.get("/api/v1/messages/realtime",
                      headers=bearer(world["adm_a"])).status_code == 403  # fmt: skip


def test_connections_are_counted_and_released(client, world, rt):
    streams = [stream_for(client, world["tokens"][1]) for _ in range(5)]
    assert health(rt)["connections"] == 5
    for s in streams:
        s.close()
    # a closed client is noticed at the next write: publish to its channel
    deadline = time.monotonic() + 5
    while health(rt)["connections"] and time.monotonic() < deadline:
        realtime.to_member(world["members"][1], {"type": "ping"})
        time.sleep(0.1)
    assert health(rt)["connections"] == 0


def test_without_a_realtime_url_pages_poll(client, world, app):
    app.config["REALTIME_URL"] = ""
    settings = client.get("/api/v1/messages/realtime", headers=bearer(world["tokens"][1]))
    assert settings.get_json() == {"url": "", "token": "", "poll": 15}


def test_publishing_with_redis_unreachable_loses_the_event_not_the_request(client, world, app):
    import redis

    cid = client.post(MINE, headers=bearer(world["tokens"][1]), json={"body": "问"}).get_json()
    real = app.extensions["shihui.rq_redis"]
    app.extensions["shihui.rq_redis"] = redis.Redis(port=1, socket_connect_timeout=0.5)  # closed
    try:
        resp = client.post(f"{STAFF}/{cid['id']}/replies", headers=bearer(world["adm_a"]),
                           json={"body": "答"})  # fmt: skip
        assert resp.status_code == 201
        assert realtime.to_member(world["members"][1], {"type": "x"}) == 0
    finally:
        app.extensions["shihui.rq_redis"] = real


def test_a_lost_subscription_comes_back_and_tells_pages_to_resync(app_config, tmp_path):
    import redis

    from inventory.server import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "pubsub").start()
    try:
        with realtime_server(dict(app_config, RQ_REDIS_URL=server.url)) as base:
            token = serializer(app_config["SECRET_KEY"]).dumps(["m:1"])
            stream = Stream(f"{base}/events?t={token}")
            assert stream.next(5)[0] == "ready"
            server.stop()  # the realtime process loses its subscription
            deadline = time.monotonic() + 10
            while health(base)["subscribed"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not health(base)["subscribed"]
            assert health(base)["connections"] == 1  # the page's stream stays open
            server.start()  # same port: the process reconnects by itself
            name, _data, _at = stream.next(15)
            assert name == "resync"  # events were lost meanwhile: pages fetch their state
            redis.Redis.from_url(server.url).publish("shihui:rt:m:1", b'{"type":"reply"}')
            assert stream.next(2)[1] == {"type": "reply"}
            stream.close()
    finally:
        server.stop()
