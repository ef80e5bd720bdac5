"""Who sees what: own region, another region, another city, the Beijing-Tianjin-Hebei alliance."""

import itertools

import pytest

from catalogue.models import Offer
from catalogue.visibility import visible_clause, visible_to
from marketplace.extensions import db

from . import factories as f
from .factories import BEIJING, HOME, OTHER_DISTRICT

TIANJIN, UNKNOWN = "120101", "999999"


@pytest.mark.parametrize(
    ("member", "regions", "alliance", "seen"),
    [
        (HOME, [], False, True),  # city-wide
        (OTHER_DISTRICT, [], False, True),
        (HOME, [HOME], False, True),  # own region
        (OTHER_DISTRICT, [HOME], False, False),  # other region
        (BEIJING, [], False, False),  # other city
        (BEIJING, [], True, True),  # alliance member from another city
        (TIANJIN, [HOME], True, True),
        (OTHER_DISTRICT, [HOME], True, False),  # alliance does not widen the home city
        (UNKNOWN, [], True, False),
        (None, [], False, False),
        (BEIJING, [BEIJING], False, True),  # explicitly listed
    ],
)
def test_rule(member, regions, alliance, seen):
    assert visible_to(member, regions, alliance, city="130100") is seen


def test_sql_clause_matches_the_python_rule(app_ctx):
    shop, _, _ = f.merchant()
    combos = list(itertools.product([[], [HOME], [OTHER_DISTRICT], [HOME, BEIJING]], [False, True]))
    for regions, alliance in combos:
        offer = Offer(merchant_id=shop.id, title="t", category="dining", city="130100",
                      valid_from=f.utcnow(), valid_until=f.utcnow() + f.timedelta(days=1),
                      alliance=alliance)  # fmt: skip
        offer.regions = regions
        db.session.add(offer)
    db.session.commit()
    offers = db.session.query(Offer).all()
    for who in (HOME, OTHER_DISTRICT, BEIJING, TIANJIN, UNKNOWN, None):
        expected = {o.id for o in offers if visible_to(who, o.regions, o.alliance, o.city)}
        got = {o.id for o in db.session.query(Offer).filter(visible_clause(Offer, who))}
        assert got == expected, who


def test_api_hides_what_a_member_may_not_see(client, api, shop):
    _, owner, _ = shop
    local = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body(regions=[HOME]))
    alliance = f.create(client, "/api/v1/merchant/offers", owner,
                        f.offer_body(title="京津冀通用", alliance=True))  # fmt: skip
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body(regions=[HOME]))
    home, other, beijing = (f.member(r)[1] for r in (HOME, OTHER_DISTRICT, BEIJING))

    def ids(token):
        return {o["id"] for o in api.get("/api/v1/offers", token).get_json()["items"]}

    assert ids(home) == {local["id"], alliance["id"]}
    assert ids(other) == {alliance["id"]}
    assert ids(beijing) == {alliance["id"]}
    assert api.get(f"/api/v1/offers/{local['id']}", other).status_code == 404
    assert api.get(f"/api/v1/offers/{local['id']}", beijing).status_code == 404
    assert api.get(f"/api/v1/groupbuys/{deal['id']}", other).status_code == 404
    assert api.post(f"/api/v1/groupbuys/{deal['id']}/join", other).status_code == 404
    assert api.get("/api/v1/groupbuys", other).get_json()["total"] == 0
    assert api.get("/api/v1/groupbuys", home).get_json()["total"] == 1
