"""Group-buy pools after Redis lost its data: rebuilt from the places in SQL, never reopened
empty, so earlier participants still count and the deal does not overfill."""

from sqlalchemy import func, select

from catalogue.models import GroupBuy, GroupBuyParticipant, GroupBuyTeam
from marketplace.extensions import db, get_redis

from . import factories as f


def _join(api, deal_id, token, **body):
    return api.post(f"/api/v1/groupbuys/{deal_id}/join", token, body)


def _live_places(deal_id):
    return db.session.execute(
        select(func.coalesce(func.sum(GroupBuyParticipant.qty), 0)).where(
            GroupBuyParticipant.groupbuy_id == deal_id, GroupBuyParticipant.state == "joined"
        )
    ).scalar_one()


def test_tipping_pool_is_rebuilt_from_the_participants(client, api, shop):
    deal = f.create(client, "/api/v1/merchant/groupbuys", shop[1], f.deal_body(max_participants=3))[
        "id"
    ]
    a, b, c, d, e = (f.member() for _ in range(5))
    for member in (a, b, c):
        assert _join(api, deal, member[1]).status_code == 201
    assert api.post(f"/api/v1/groupbuys/{deal}/leave", a[1]).status_code == 200

    get_redis().flushdb()  # Redis lost everything: pools, claims, request ids

    again = _join(api, deal, b[1])
    assert again.status_code == 409 and again.get_json()["code"] == "already_joined"
    assert _join(api, deal, d[1]).status_code == 201  # a's place was given back before the loss
    full = _join(api, deal, e[1])
    assert full.status_code == 409 and full.get_json()["code"] == "groupbuy_full"
    assert _live_places(deal) == 3 == db.session.get(GroupBuy, deal).max_participants
    detail = api.get(f"/api/v1/groupbuys/{deal}", d[1]).get_json()
    assert detail["remaining"] == 0


def test_team_pools_are_rebuilt_too(client, api, shop):
    body = f.deal_body(
        mode="team", team_size=3, team_window_seconds=3600, min_participants=1, max_participants=6
    )
    deal = f.create(client, "/api/v1/merchant/groupbuys", shop[1], body)["id"]
    leader, friend, leader2, late, third = (f.member() for _ in range(5))
    team = _join(api, deal, leader[1]).get_json()["team_id"]
    assert _join(api, deal, friend[1], team_id=team).status_code == 201
    assert _join(api, deal, leader2[1]).status_code == 201  # the second (last) team slot

    get_redis().flushdb()

    assert _join(api, deal, late[1], team_id=team).status_code == 201  # seat 3 of 3
    assert db.session.get(GroupBuyTeam, team).state == "succeeded"
    closed = _join(api, deal, third[1], team_id=team)
    assert closed.status_code == 409 and closed.get_json()["code"] == "team_closed"
    no_slot = _join(api, deal, third[1])  # both slots are still taken after the rebuild
    assert no_slot.status_code == 409 and no_slot.get_json()["code"] == "groupbuy_full"
    assert db.session.scalar(select(func.count()).select_from(GroupBuyTeam)) == 2
