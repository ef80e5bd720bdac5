"""Authorization (anonymous, member, merchant, another merchant, clerk) and bad input (422).

Who gets what comes from the permission table (tests/authz.py reads it)."""

import pytest

from tests.authz import outcome

from . import factories as f


@pytest.fixture
def world(client, shop):
    merchant, owner, clerk = shop
    offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
    _, other_owner, _ = f.merchant("别家")
    _, member, _ = f.member()
    return dict(owner=owner, clerk=clerk, other=other_owner, member=member, offer=offer["id"],
                deal=deal["id"])  # fmt: skip


@pytest.mark.parametrize(
    ("path", "action"),
    [("/api/v1/merchants", "directory.browse"), ("/api/v1/offers", "directory.browse"),
     ("/api/v1/groupbuys", "groupbuy.browse"), ("/api/v1/groupbuys/mine", "groupbuy.join")],
)  # fmt: skip
def test_member_lists_need_a_member(api, world, path, action):
    anonymous = api.get(path)
    assert anonymous.status_code == 401 and anonymous.get_json()["code"] == "unauthorized"
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    for persona in ("owner", "clerk", "member"):
        assert api.get(path, world[persona]).status_code == outcome(action, persona), persona


def test_merchant_endpoints(client, api, world):
    """``other`` owns another merchant: its answers on this merchant's objects are 404."""
    offer_path = f"/api/v1/merchant/offers/{world['offer']}"
    assert api.get(offer_path).status_code == 401
    for persona in ("member", "clerk", "other"):
        want = outcome("offer.view", persona, target="theirs")
        assert api.get(offer_path, world[persona]).status_code == want, persona
    other_patch = client.patch(offer_path, json={"title": "x"}, headers=f.bearer(world["other"]))
    assert other_patch.status_code == outcome("offer.edit", "other", target="theirs")
    clerk_create = api.post("/api/v1/merchant/offers", world["clerk"], f.offer_body())
    assert clerk_create.status_code == outcome("offer.create", "clerk", ok=201)
    deal_path = f"/api/v1/merchant/groupbuys/{world['deal']}"
    assert api.get(deal_path, world["other"]).status_code == outcome(
        "groupbuy.view", "other", target="theirs"
    )
    for persona in ("other", "clerk"):
        want = outcome("groupbuy.cancel", persona, target="theirs")
        assert api.post(deal_path + "/cancel", world[persona]).status_code == want, persona
    cancelled = api.post(deal_path + "/cancel", world["owner"])
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = api.post(deal_path + "/cancel", world["owner"])
    assert again.status_code == 409 and again.get_json()["code"] == "illegal_transition"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"min_participants": 0}, {"min_participants"}),
        ({"max_participants": 1, "min_participants": 2}, {"max_participants"}),
        ({"deadline": "2020-01-01T00:00:00+00:00"}, {"deadline"}),
        ({"deadline": "not a date"}, {"deadline"}),
        ({"opens_at": "2030-01-01T00:00:00"}, {"opens_at"}),  # naive datetime
        ({"mode": "team"}, {"team_size"}),
        ({"mode": "auction"}, {"mode"}),
        ({"regions": ["999999"]}, {"regions"}),
        ({"member_price_cents": 30000}, {"member_price_cents"}),
        ({"category": "casino", "title": ""}, {"category", "title"}),
    ],
)
def test_bad_groupbuy_input_is_422_with_field_errors(api, world, body, fields):
    resp = api.post("/api/v1/merchant/groupbuys", world["owner"], f.deal_body(**body))
    assert resp.status_code == 422, resp.get_json()
    problem = resp.get_json()
    assert problem["code"] == "validation_error" and fields <= set(problem["errors"])


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/merchants?page=0", "page"),
        ("/api/v1/merchants?per_page=1000", "per_page"),
        ("/api/v1/merchants?category=zoo", "category"),
        ("/api/v1/groupbuys?sort=random", "sort"),
        ("/api/v1/offers?merchant_id=abc", "merchant_id"),
    ],
)
def test_bad_query_is_422(api, world, path, field):
    resp = api.get(path, world["member"])
    assert resp.status_code == 422 and field in resp.get_json()["errors"]


def test_bad_join_input(client, api, world):
    path = f"/api/v1/groupbuys/{world['deal']}/join"
    assert api.post(path, world["member"], {"qty": 0}).status_code == 422
    assert api.post(path, world["member"], {"team_id": 5}).status_code == 422  # no teams here
    raw = client.post(path, data="{", headers=f.bearer(world["member"]) | {
        "Content-Type": "application/json"})  # fmt: skip
    assert raw.status_code == 400
    assert api.post("/api/v1/groupbuys/999999/join", world["member"]).status_code == 404
    inactive = f.member(active=False)[1]
    refused = api.post(path, inactive)
    assert refused.status_code == 403 and refused.get_json()["code"] == "card_inactive"
    assert api.post(path, world["owner"]).status_code == 403
