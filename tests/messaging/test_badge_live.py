"""The live badge's endpoints (issue #16, the badge on every page): who may ask, that the answer
is never cached and the token never in a page, that an announcement is one event its audience
hears and the count follows at once (the badge cache's generation), withdrawn or scheduled too."""

from __future__ import annotations

import queue
from datetime import timedelta

import pytest

from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.models import utcnow
from messaging import conversations as convs
from messaging import jobs
from messaging.models import Announcement
from messaging.realtime_server import serializer
from tests.members.helpers import bearer
from tests.merchant_portal.conftest import fresh_g
from tests.orgs.helpers import PASSWORD, branch_admin, build_tree

from .realtime_kit import Stream, realtime_server

MEMBER, ADMIN = "/m/messages/live", "/admin/conversations/live"
ANN = "/api/v1/admin/announcements"


class P:
    def __init__(self, account_id, role, member_id=None):
        self.account_id, self.role, self.member_id = account_id, role, member_id


@pytest.fixture
def world(client, app_ctx):
    from marketplace.auth.services import create_account
    from tests.flashsale.factories import make_merchant

    w = build_tree(client)
    make_merchant()
    create_account("root", PASSWORD, "admin")
    w["adm_a"] = branch_admin(client, "admin-a", w["orgs"]["A"])
    w["adm_b"] = branch_admin(client, "admin-b", w["orgs"]["B"])
    member = db.session.scalar(db.select(Account).where(Account.member_id == w["members"][1]))
    owner = db.session.scalar(db.select(Account.username).where(Account.role == "merchant_owner"))
    w["accounts"] = {"member": member.username, "merchant_owner": owner, "admin": "root",
                     "branch_admin": "admin-a", "other_branch_admin": "admin-b"}  # fmt: skip
    w["member_account"] = member
    return w


def log_in(client, world, who) -> None:
    with client.session_transaction() as sess:
        sess.clear()
        if who != "anon":
            account = db.session.scalar(
                db.select(Account).where(Account.username == world["accounts"][who])
            )
            sess["_user_id"] = f"{account.id}:{account.token_version}"
            sess["_fresh"] = True
    fresh_g()


@pytest.mark.parametrize("accept", ["application/json", "text/html,*/*"])
def test_without_a_session_401_problem_json_no_store_never_a_redirect(client, world, accept):
    for url in (MEMBER, ADMIN):
        fresh_g()
        resp = client.get(url, headers={"Accept": accept})
        assert resp.status_code == 401, url
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["code"] == "unauthorized"
        assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("who", "member_status", "admin_status"),
    [("member", 200, 403), ("merchant_owner", 403, 403), ("admin", 403, 200),
     ("branch_admin", 403, 200)],
)  # fmt: skip
def test_who_may_ask(client, world, who, member_status, admin_status):
    log_in(client, world, who)
    got = client.get(MEMBER)
    assert got.status_code == member_status
    fresh_g()
    assert client.get(ADMIN).status_code == admin_status
    if member_status == 403:
        assert got.mimetype == "application/problem+json"
        assert got.get_json()["code"] == "forbidden"


def test_the_member_answer_is_no_store_and_its_token_names_own_and_audience_channels(
    client, world, app
):
    app.config["REALTIME_URL"] = "http://127.0.0.1:1"
    log_in(client, world, "member")
    resp = client.get(MEMBER)
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["unread"] == 0 and body["url"] == "http://127.0.0.1:1/events"
    channels = serializer(app.config["SECRET_KEY"]).loads(body["token"])
    m, orgs = world["members"][1], world["orgs"]
    assert channels[0] == f"m:{m}"
    assert {"a:all", "a:region:130102", f"a:org:{orgs['A']}", f"a:org:{orgs['city']}"} <= set(
        channels
    )
    assert f"a:org:{orgs['B']}" not in channels and f"m:{world['members'][2]}" not in channels
    # pages carry where to ask, never the token (sale pages are shared between members)
    for page in ("/m/sales", "/m/card", "/m/"):
        fresh_g()
        html = client.get(page).get_data(as_text=True)
        assert 'data-source="/m/messages/live"' in html, page
        assert body["token"] not in html and "data-rt-token" not in html, page


def test_a_sale_page_cached_for_every_member_carries_no_ones_count(client, world):
    made = client.post(ANN, headers=bearer(world["adm_a"]),
                       json={"title": "t", "body": "b", "audience": "org"})  # fmt: skip
    assert made.status_code == 201
    log_in(client, world, "member")  # branch A: one unread
    assert client.get(MEMBER).get_json()["unread"] == 1
    fresh_g()
    assert 'data-testid="tab-messages-badge">1<' in client.get("/m/card").get_data(as_text=True)
    fresh_g()
    shared = client.get("/m/sales?fresh=1").get_data(as_text=True)  # rendered for this member
    assert 'data-testid="tab-messages-badge" hidden><' in shared


def test_an_announcement_counts_at_once_and_withdrawn_it_goes(client, world):
    log_in(client, world, "member")
    assert client.get(MEMBER).get_json()["unread"] == 0  # now cached for BADGE_TTL
    made = client.post(ANN, headers=bearer(world["adm_a"]),
                       json={"title": "停电", "body": "明天", "audience": "org"})  # fmt: skip
    assert made.status_code == 201, made.get_json()
    fresh_g()
    assert client.get(MEMBER).get_json()["unread"] == 1  # not the cached 0
    resp = client.post(f"{ANN}/{made.get_json()['id']}/withdraw", headers=bearer(world["adm_a"]))
    assert resp.status_code == 200
    fresh_g()
    assert client.get(MEMBER).get_json()["unread"] == 0


def test_the_admin_badge_counts_waiting_conversations_of_its_subtree(client, world):
    log_in(client, world, "branch_admin")
    assert client.get(ADMIN).get_json()["unread"] == 0
    m = world["member_account"]
    conv = convs.open_conversation(P(m.id, "member", world["members"][1]), "问题", [])
    fresh_g()
    assert client.get(ADMIN).get_json()["unread"] == 1
    log_in(client, world, "other_branch_admin")
    assert client.get(ADMIN).get_json()["unread"] == 0  # another branch's: not theirs
    log_in(client, world, "admin")
    assert client.get(ADMIN).get_json()["unread"] == 1
    fresh_g()
    client.get(f"/admin/conversations/{conv.id}")  # seen by the city admin
    fresh_g()
    assert client.get(ADMIN).get_json()["unread"] == 0


def test_an_announcement_is_one_event_its_audience_hears(client, world, app, app_config):
    with realtime_server(app_config) as base:
        app.config["REALTIME_URL"] = base
        streams = {}
        for n, who in ((1, "member"), (2, None)):
            if who is None:
                world["accounts"]["m2"] = db.session.scalar(
                    db.select(Account.username).where(Account.member_id == world["members"][2])
                )
                who = "m2"
            log_in(client, world, who)
            body = client.get(MEMBER).get_json()
            streams[n] = Stream(f"{body['url']}?t={body['token']}")
            assert streams[n].next(5)[0] == "ready"
        made = client.post(ANN, headers=bearer(world["adm_a"]),
                           json={"title": "t", "body": "b", "audience": "org"})  # fmt: skip
        name, data, _at = streams[1].next(2)
        assert (name, data) == ("message", {"type": "announcement",
                                            "announcement_id": made.get_json()["id"]})  # fmt: skip
        with pytest.raises(queue.Empty):  # member 2 is in branch B: nothing
            streams[2].next(0.5)
        for s in streams.values():
            s.close()


def test_a_scheduled_announcement_is_announced_by_its_job_when_due(client, world):
    log_in(client, world, "member")
    later = (utcnow() + timedelta(hours=1)).isoformat()
    made = client.post(
        ANN,
        headers=bearer(world["adm_a"]),
        json={"title": "t", "body": "b", "audience": "org", "publish_at": later},
    )
    assert made.status_code == 201, made.get_json()
    aid = made.get_json()["id"]
    assert jobs.announcement_due(aid) is False  # not yet
    assert client.get(MEMBER).get_json()["unread"] == 0  # cached now
    db.session.get(Announcement, aid).publish_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert jobs.announcement_due(aid) is True
    fresh_g()
    assert client.get(MEMBER).get_json()["unread"] == 1
    assert client.post(f"{ANN}/{aid}/withdraw", headers=bearer(world["adm_a"])).status_code == 200
    assert jobs.announcement_due(aid) is False
