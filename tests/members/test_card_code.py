"""The card's changing code (issue #18 item 3): valid in its step and the next one only; old,
forged, foreign-key, malformed codes and cards that are not active are refused with their own
problem codes, at the API and on the counter page; the member's code endpoint is private."""

from __future__ import annotations

import time

import pytest

from marketplace.extensions import db
from marketplace.members import cardcode
from marketplace.members.models import Card
from tests.flashsale.factories import make_merchant
from tests.members.helpers import activated_member, bearer
from tests.members.test_pages import login
from tests.merchant_portal.conftest import fresh_g

VERIFY = "/api/v1/merchant/cards/verify"


@pytest.fixture
def card(client, app_ctx):
    d, _token = activated_member(client, 1)
    return db.session.scalar(db.select(Card).where(Card.card_no == d["card_no"]))


@pytest.fixture
def clerk(app_ctx):
    _shop, _owner, clerk = make_merchant(clerk="clerk1")
    return clerk


def problem(resp) -> tuple[int, str]:
    assert resp.mimetype == "application/problem+json", resp.get_data(as_text=True)
    return resp.status_code, resp.get_json()["code"]


def test_a_code_is_valid_in_its_step_and_the_next_only(card, app):
    app.config["CARD_CODE_STEP_SECONDS"] = "30"
    t = 1_800_000_000.0  # a step boundary (divisible by 30)
    code = cardcode.current(card, now=t).code
    assert code.startswith(f"SHC1-{card.id}-60000000-")
    assert cardcode.verify(code, now=t).id == card.id
    assert cardcode.verify(code, now=t + 59.9).id == card.id  # the next step still takes it
    with pytest.raises(cardcode.CardCodeExpired) as old:
        cardcode.verify(code, now=t + 60)
    assert (old.value.status, old.value.code) == (410, "card_code_expired")
    with pytest.raises(cardcode.CardCodeInvalid) as future:
        cardcode.verify(code, now=t - 1)  # a code from the next step: not yet
    assert (future.value.status, future.value.code) == (422, "card_code_invalid")
    assert cardcode.current(card, now=t + 30).code != code
    assert cardcode.verify(code.lower(), now=t).id == card.id  # scanners may change the case


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # one symbol of the MAC
        lambda c: c.replace(c.split("-")[2], str(int(c.split("-")[2]) - 1)),  # an older step
        lambda c: c.replace(f"-{c.split('-')[1]}-", f"-{int(c.split('-')[1]) + 1}-"),  # a card
        lambda c: "SHC1-1-2-AAAAAAAAAA",
        lambda c: "SHC1-99999999999999999999-2-AAAAAAAAAA",
        lambda c: c + "A",
        lambda c: "",
        lambda c: "<script>alert(1)</script>",
        lambda c: "6222000000000017",
    ],
)
def test_forged_or_malformed_codes_are_invalid(card, mutate):
    code = cardcode.current(card).code
    with pytest.raises(cardcode.CardCodeInvalid):
        cardcode.verify(mutate(code))


def test_a_code_made_with_another_key_is_forged(card, app):
    code = cardcode.current(card).code
    app.config["SECRET_KEY"] = "another-key-" + "x" * 40
    with pytest.raises(cardcode.CardCodeInvalid):
        cardcode.verify(code)


@pytest.mark.parametrize(("status", "code"),
                         [("frozen", "card_frozen"), ("cancelled", "card_inactive"),
                          ("issued", "card_inactive")])  # fmt: skip
def test_a_card_that_is_not_active_is_refused_with_its_status(card, status, code):
    shown = cardcode.current(card).code
    card.status = status
    db.session.commit()
    with pytest.raises(cardcode.CardNotActive) as refused:
        cardcode.verify(shown)
    assert (refused.value.status, refused.value.code) == (409, code)
    assert refused.value.extra == {"card_status": status}


def test_the_api_answers_the_masked_face_and_refuses_with_problem_codes(client, card, clerk):
    ok = client.post(VERIFY, headers=bearer(clerk), json={"code": cardcode.current(card).code})
    assert ok.status_code == 200, ok.get_json()
    body = ok.get_json()
    assert body["status"] == "active" and body["name_masked"].endswith("*")
    assert body["card_masked"] == f"{card.card_no[:4]} **** **** {card.card_no[-4:]}"
    assert card.member.name not in ok.get_data(as_text=True)
    assert card.card_no not in ok.get_data(as_text=True)
    old = cardcode.current(card, now=time.time() - 90).code
    assert problem(client.post(VERIFY, headers=bearer(clerk), json={"code": old})) == (
        410, "card_code_expired")  # fmt: skip
    forged = cardcode.current(card).code[:-2] + "22"
    assert problem(client.post(VERIFY, headers=bearer(clerk), json={"code": forged})) == (
        422, "card_code_invalid")  # fmt: skip
    for bad in ({}, {"code": 12}, {"code": "x" * 65}, {"code": None}):
        assert problem(client.post(VERIFY, headers=bearer(clerk), json=bad)) == (
            422, "validation_error"), bad  # fmt: skip
    resp = client.post(VERIFY, headers={**bearer(clerk), "Content-Type": "application/json"},
                       data="{not json")  # fmt: skip
    assert problem(resp)[0] == 400
    card.status = "frozen"
    db.session.commit()
    resp = client.post(VERIFY, headers=bearer(clerk), json={"code": cardcode.current(card).code})
    assert problem(resp) == (409, "card_frozen") and resp.get_json()["card_status"] == "frozen"


def test_every_check_is_audit_logged_for_the_merchant(client, card, clerk):
    from marketplace.models import AuditEvent

    client.post(VERIFY, headers=bearer(clerk), json={"code": cardcode.current(card).code})
    client.post(VERIFY, headers=bearer(clerk), json={"code": "SHC1-1-2-AAAAAAAAAA"})
    actions = db.session.scalars(db.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["card.verify", "card.verify_refused"]


def test_the_members_code_endpoint_is_private_and_its_code_verifies(client, card, app):
    resp = client.get("/m/card/code", headers={"Accept": "application/json"})
    assert resp.status_code in (302, 401)  # no session: the login page
    login(client, card.card_no)
    fresh_g()
    resp = client.get("/m/card/code")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["qr"].startswith("data:image/svg+xml")
    assert 0 < body["next_in_ms"] <= 30_000 and body["step_seconds"] == 30
    assert cardcode.verify(body["code"]).id == card.id
    fresh_g()
    html = client.get("/m/card").get_data(as_text=True)
    assert 'data-testid="card-face"' in html and "**** ****" in html
    card.status = "frozen"
    db.session.commit()
    fresh_g()
    resp = client.get("/m/card/code", headers={"Accept": "application/json"})
    if resp.status_code == 302:  # freezing may end the session: then the login page
        return
    assert problem(resp) == (409, "card_frozen")


def test_the_counter_page_shows_the_member_masked_or_says_why_not(client, card):
    from marketplace.auth.models import Account

    make_merchant(clerk="clerk1")
    account = db.session.scalar(db.select(Account).where(Account.username == "clerk1"))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    fresh_g()
    resp = client.get("/merchant/counter", query_string={"code": cardcode.current(card).code})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-result="card"' in html
    assert card.member.name not in html and "**** ****" in html
    fresh_g()
    old = cardcode.current(card, now=time.time() - 90).code
    resp = client.get("/merchant/counter", query_string={"code": old})
    assert resp.status_code == 410 and 'data-result="bad"' in resp.get_data(as_text=True)
    fresh_g()
    resp = client.get("/merchant/counter", query_string={"code": "SHC1-1-2-AAAAAAAAAA"})
    assert resp.status_code == 422
    fresh_g()
    assert client.get("/m/card/code").status_code == 404  # staff have no card to show
