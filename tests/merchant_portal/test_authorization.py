"""Authorization matrix: every portal page and API endpoint of the merchant portal (sales, staff,
counter, offers, group-buys) and the admin console, for anonymous, member, clerk, owner of
another merchant, owner of a suspended merchant, the owner, and an admin. Pages post with a valid
CSRF token here; test_csrf_* posts without. The expected answers come from the permission table
(marketplace/permissions.py, through tests/authz.py); the callers and objects are concrete."""

from __future__ import annotations

import itertools

import pytest

from marketplace.extensions import db
from marketplace.members.importer import new_import
from merchant_portal import onboarding
from merchant_portal.models import CoverImage
from tests import authz
from tests.catalogue.factories import create, deal_body, offer_body
from tests.flashsale.factories import create_sale, make_members, make_merchant

from .conftest import csrf_of, fresh_g

ROLES = ("anon", "member", "clerk", "other", "suspended", "owner", "admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def page(method, url, data, action, target="none", ok=200, **override):
    """A page row; what each caller gets comes from the permission table ("login" = redirected
    to a login page). ``target``: "theirs" = merchant A's object, "own" = the caller's own."""
    answers = authz.expected(action, ROLES, target=target, ok=ok, anon="login")
    return method, url, data, answers | override


PAGES = [
    page("GET", "/merchant/apply", None, None),
    page("GET", "/merchant/login", None, None),
    page("GET", "/admin/login", None, None),
    page("GET", "/merchant/media/covers/{cover}", None, None),
    page("GET", "/merchant/", None, "portal.enter", clerk=302),  # clerks land on the counter
    page("GET", "/merchant/dashboard.json", None, "sale.view"),
    page("GET", "/merchant/sales", None, "sale.view"),
    page("GET", "/merchant/sales/new", None, "sale.create"),
    page("POST", "/merchant/sales/new", {}, "sale.create", ok=422),
    page("GET", "/merchant/sales/{sale}", None, "sale.view", "theirs"),
    page("GET", "/merchant/sales/{sale}/edit", None, "sale.edit", "theirs"),
    page("POST", "/merchant/sales/{sale}/edit", {}, "sale.edit", "theirs", ok=422),
    page("GET", "/merchant/sales/{sale}/live.json", None, "sale.view", "theirs"),
    page("GET", "/merchant/sales/{sale}/claims.svg", None, "sale.view", "theirs"),
    page("GET", "/merchant/sales/{sale}/redemptions.svg", None, "sale.view", "theirs"),
    page("GET", "/merchant/sales/{sale}/vouchers.csv", None, "sale.export", "theirs"),
    page("GET", "/merchant/sales/{sale}/redemptions.csv", None, "sale.export", "theirs"),
    page("POST", "/merchant/sales/{draft}/publish", {}, "sale.publish", "theirs", ok=302),
    page("POST", "/merchant/sales/{own_draft}/publish", {}, "sale.publish", "own", ok=302),
    page("POST", "/merchant/sales/{sale}/top-up", {"add": "5"}, "sale.top_up", "theirs", ok=302),
    page("POST", "/merchant/sales/{own_sale}/top-up", {"add": "5"}, "sale.top_up", "own", ok=302),
    page("POST", "/merchant/sales/{sale}/duplicate", {}, "sale.duplicate", "theirs", ok=302),
    page("POST", "/merchant/sales/{sale}/cancel", {}, "sale.cancel", "theirs", ok=302),
    # Not a lottery: the owner is told so on the sale page (a flash), nothing changes.
    page(
        "POST", "/merchant/sales/{sale}/vouchers/NOPE/unused", {}, "sale.handon", "theirs", ok=302
    ),
    page("GET", "/merchant/profile", None, "profile.edit"),
    page("POST", "/merchant/profile", {}, "profile.edit", ok=422),
    page("GET", "/merchant/staff", None, "staff.manage"),
    page(
        "POST",
        "/merchant/staff",
        {"username": "newclerk{n}", "password": "clerk-pass-1"},
        "staff.manage",
        ok=302,
    ),  # fmt: skip
    page("POST", "/merchant/staff/{clerk}/remove", {}, "staff.manage", "theirs", ok=302),
    page("GET", "/merchant/counter", None, "voucher.redeem"),
    page("GET", "/merchant/counter?code={cardcode}", None, "card.verify"),
    page("GET", "/merchant/counter?code={code}", None, "voucher.redeem", "theirs"),
    page(
        "POST",
        "/merchant/counter/redeem",
        {"code": "{code}", "key": "matrix-key-{n}"},
        "voucher.redeem",
        "theirs",
    ),  # fmt: skip
    page(
        "POST",
        "/merchant/redemptions/{redemption}/revert",
        {},
        "redemption.revert",
        "theirs",
        ok=302,
    ),  # fmt: skip
    page("GET", "/merchant/redemptions", None, "redemption.view"),
    page("GET", "/merchant/audit", None, "audit.view_own"),
    page("GET", "/merchant/offers", None, "offer.view"),
    page("GET", "/merchant/offers/new", None, "offer.create"),
    page("POST", "/merchant/offers/new", {}, "offer.create", ok=422),
    page("GET", "/merchant/offers/{offer}/edit", None, "offer.edit", "theirs"),
    page("POST", "/merchant/offers/{offer}/edit", {}, "offer.edit", "theirs", ok=422),
    page("GET", "/merchant/groupbuys", None, "groupbuy.view"),
    page("GET", "/merchant/groupbuys/new", None, "groupbuy.create"),
    page("POST", "/merchant/groupbuys/new", {}, "groupbuy.create", ok=422),
    page("GET", "/merchant/groupbuys/{deal}", None, "groupbuy.view", "theirs"),
    page("POST", "/merchant/groupbuys/{deal}/cancel", {}, "groupbuy.cancel", "theirs", ok=302),
    page("GET", "/admin/", None, "console.enter"),
    page("GET", "/admin/merchants", None, "merchant.view_any"),
    page("GET", "/admin/merchants/{pending}", None, "merchant.view_any"),
    page("POST", "/admin/merchants/{pending}/approve", {}, "merchant.review", ok=302),
    page(
        "POST",
        "/admin/merchants/{pending2}/reject",
        {"reject-reason": "不符合"},
        "merchant.review",
        ok=302,
    ),  # fmt: skip
    page(
        "POST",
        "/admin/merchants/{shop}/suspend",
        {"suspend-reason": "投诉"},
        "merchant.suspend",
        ok=302,
    ),  # fmt: skip
    page("POST", "/admin/merchants/{suspended_shop}/reinstate", {}, "merchant.suspend", ok=302),
    page("GET", "/admin/sales", None, "sale.view_any"),
    page("GET", "/admin/imports", None, "member.import"),
    page("GET", "/admin/imports/{import}", None, "member.import"),
    page("GET", "/admin/imports/{import}/progress.json", None, "member.import"),
    page("GET", "/admin/imports/{import}/rejected.csv", None, "member.import"),
    page("GET", "/admin/imports/template.csv", None, "member.import"),
    page("GET", "/admin/cards", None, "member.view"),
    page("POST", "/admin/cards/freeze", {"card_no": "{card}"}, "card.freeze", ok=302),
    page(
        "POST",
        "/admin/cards/reissue",
        {"member_id": "{member}", "new_card_no": "6222099999999999"},
        "card.reissue",
        ok=302,
    ),  # fmt: skip
    page("GET", "/admin/audit", None, "audit.view_any"),
]


def api(method, url, body, action, target="none", ok=200):
    """An API row: no token 401, a role the table refuses 403, another merchant's object 404."""
    return method, url, body, authz.expected(action, ROLES, target=target, ok=ok, anon=401)


APPLICATION = {
    "business_name": "申请者", "licence_no": "91310101MA1FPX{n:04d}", "category": "dining",
    "region": "310101", "address": "某路 1 号", "contact_name": "张三",
    "contact_phone": "13800001111", "owner_username": "applicant{n}",
    "owner_password": "applicant-pass",
}  # fmt: skip

API = [
    api("POST", "/api/v1/merchant-applications", APPLICATION, None, ok=201),
    api("GET", "/api/v1/merchant/me", None, "merchant.view_own"),
    api("GET", "/api/v1/merchant/staff", None, "staff.manage"),
    api(
        "POST",
        "/api/v1/merchant/staff",
        {"username": "apiclerk{n}", "password": "clerk-pass-1"},
        "staff.manage",
        ok=201,
    ),  # fmt: skip
    api("DELETE", "/api/v1/merchant/staff/{clerk}", None, "staff.manage", "theirs"),
    api("GET", "/api/v1/merchant/dashboard", None, "sale.view"),
    api("GET", "/api/v1/merchant/campaigns/{sale}/live", None, "sale.view", "theirs"),
    api("POST", "/api/v1/merchant/campaigns/{sale}/top-up", {"add": 1}, "sale.top_up", "theirs"),
    api("POST", "/api/v1/merchant/campaigns/{own_sale}/top-up", {"add": 1}, "sale.top_up", "own"),
    api(
        "POST",
        "/api/v1/merchant/campaigns/{sale}/duplicate",
        None,
        "sale.duplicate",
        "theirs",
        ok=201,
    ),  # fmt: skip
    api("GET", "/api/v1/merchant/campaigns/{sale}/vouchers.csv", None, "sale.export", "theirs"),
    api(
        "GET", "/api/v1/merchant/campaigns/{sale}/redemptions.csv", None, "sale.export", "theirs"
    ),  # fmt: skip
    api("POST", "/api/v1/merchant/covers", "PNG", "cover.upload", ok=201),
    api("GET", "/api/v1/merchant/recent-redemptions", None, "redemption.view"),
    api("POST", "/api/v1/merchant/cards/verify", {"code": "{cardcode}"}, "card.verify"),
    api("GET", "/api/v1/merchant/audit-events", None, "audit.view_own"),
    api("GET", "/api/v1/admin/merchant-applications", None, "merchant.review"),
    api("POST", "/api/v1/admin/merchant-applications/{pending}/approve", None, "merchant.review"),
    api(
        "POST",
        "/api/v1/admin/merchant-applications/{pending2}/reject",
        {"reason": "不符合"},
        "merchant.review",
    ),  # fmt: skip
    api("GET", "/api/v1/admin/merchants", None, "merchant.view_any"),
    api("GET", "/api/v1/admin/merchants/{shop}", None, "merchant.view_any"),
    api(
        "POST",
        "/api/v1/admin/merchants/{shop}/suspend",
        {"reason": "投诉", "vouchers_valid": True},
        "merchant.suspend",
    ),  # fmt: skip
    api("POST", "/api/v1/admin/merchants/{suspended_shop}/reinstate", None, "merchant.suspend"),
    api("GET", "/api/v1/admin/campaigns", None, "sale.view_any"),
    api("GET", "/api/v1/admin/audit-events", None, "audit.view_any"),
]

_n = itertools.count(1)


@pytest.fixture
def world(client, app_ctx, admin):
    """Merchant A (owner1 + clerk1, a live sale with two claims of one member, one redeemed, a
    draft), merchant B (owner2), merchant C (owner3, suspended, vouchers invalid), a member, a
    pending application, a roster import and a cover image."""
    from flashsale.jobs import drain_outbox

    from .test_onboarding import claim, redeem

    admin_account, _ = admin
    shop, owner, clerk = make_merchant(username="owner1", clerk="clerk1")
    other, owner2 = make_merchant(name="别家", username="owner2")
    susp, owner3 = make_merchant(name="停业", username="owner3")
    ((member_id, member_token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=10, per_member_limit=2)
    draft = create_sale(client, owner, publish=False)
    own = {
        "owner": (sale, draft),
        "other": (create_sale(client, owner2), create_sale(client, owner2, publish=False)),
        "suspended": (create_sale(client, owner3), create_sale(client, owner3, publish=False)),
    }
    code = claim(client, sale, member_token).get_json()["voucher"]["code"]
    code2 = claim(client, sale, member_token).get_json()["voucher"]["code"]
    drain_outbox(kind="test")
    redemption = redeem(client, code2, clerk).get_json()["id"]
    offer = create(client, "/api/v1/merchant/offers", owner, offer_body())["id"]
    deal = create(client, "/api/v1/merchant/groupbuys", owner, deal_body())["id"]

    class _P:
        account_id, role = admin_account.id, "admin"

    onboarding.suspend(_P, susp, "停业整顿", False)
    pending = onboarding.apply({k: v.format(n=9999) if isinstance(v, str) else v
                                for k, v in APPLICATION.items()}).id  # fmt: skip
    pending2 = onboarding.apply({k: v.format(n=9998) if isinstance(v, str) else v
                                 for k, v in APPLICATION.items()}).id  # fmt: skip
    imp = new_import("roster.csv", b"card_no,name\n", created_by=admin_account.id)
    cover = CoverImage(merchant_id=shop, content_type="image/png", size=len(PNG), sha256="x",
                       data=PNG)  # fmt: skip
    db.session.add(cover)
    db.session.commit()
    from marketplace.auth.models import Account
    from marketplace.members import cardcode
    from marketplace.members.models import Card

    clerk_id = db.session.scalar(db.select(Account.id).where(Account.username == "clerk1"))
    member_card = db.session.scalar(db.select(Card).where(Card.member_id == member_id))
    card = db.session.scalar(db.select(Account.username).where(Account.member_id == member_id))
    ids = {
        "shop": shop, "suspended_shop": susp, "sale": sale, "draft": draft, "code": code,
        "redemption": redemption, "pending": pending, "pending2": pending2, "import": imp.id,
        "cover": cover.id, "offer": offer, "deal": deal,
        "clerk": clerk_id, "card": card, "member": member_id,
        "cardcode": cardcode.current(member_card).code,
    }  # fmt: skip
    accounts = {"member": card, "clerk": "clerk1", "other": "owner2", "suspended": "owner3",
                "owner": "owner1", "admin": "root"}  # fmt: skip
    tokens = {"member": member_token, "clerk": clerk, "other": owner2, "suspended": owner3,
              "owner": owner, "admin": admin[1]}  # fmt: skip
    return {"ids": ids, "own": own, "accounts": accounts, "tokens": tokens}


def _fill(template, world, role):
    own_sale, own_draft = world["own"].get(role, world["own"]["owner"])
    values = {**world["ids"], "own_sale": own_sale, "own_draft": own_draft, "n": next(_n)}
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {k: _fill(v, world, role) for k, v in template.items()}
    return template


def _session_for(client, world, role):
    from marketplace.auth.models import Account

    if role != "anon":
        username = world["accounts"][role]
        account = db.session.scalar(db.select(Account).where(Account.username == username))
        with client.session_transaction() as sess:
            sess["_user_id"] = f"{account.id}:{account.token_version}"
            sess["_fresh"] = True
    fresh_g()
    return csrf_of(client.get("/merchant/login").get_data(as_text=True))


def _outcome(resp):
    resp.get_data()  # finish streamed exports inside their request context
    resp.close()
    if resp.status_code == 302 and "/login" in resp.headers["Location"]:
        return "login"
    return resp.status_code


@pytest.mark.parametrize("role", ROLES)
def test_pages(client, world, role):
    token = _session_for(client, world, role)
    wrong = []
    for method, url, data, expected in PAGES:
        url = _fill(url, world, role)
        fresh_g()
        if method == "GET":
            resp = client.get(url)
        else:
            resp = client.post(url, data={"csrf_token": token, **_fill(data, world, role)})
        if _outcome(resp) != expected[role]:
            wrong.append((method, url, _outcome(resp), expected[role]))
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_api(client, world, role):
    headers = {} if role == "anon" else {"Authorization": f"Bearer {world['tokens'][role]}"}
    wrong = []
    for method, url, body, expected in API:
        url = _fill(url, world, role)
        fresh_g()
        kwargs = {"headers": headers}
        if body == "PNG":
            import io

            kwargs["data"] = {"file": (io.BytesIO(PNG), "cover.png")}
        elif body is not None:
            kwargs["json"] = _fill(body, world, role)
        resp = client.open(url, method=method, **kwargs)
        resp.get_data()
        resp.close()
        want = expected[role]
        if resp.status_code != want:
            wrong.append((method, url, resp.status_code, want, resp.get_data(as_text=True)[:200]))
    assert wrong == []


@pytest.mark.parametrize("role", ["owner", "clerk", "admin"])
def test_form_posts_without_csrf_token_are_refused(client, world, role):
    _session_for(client, world, role)
    posts = [p for p in PAGES if p[0] == "POST"] + [
        ("POST", "/merchant/login", {}, None), ("POST", "/admin/login", {}, None),
        ("POST", "/merchant/apply", {}, None), ("POST", "/merchant/logout", {}, None),
        ("POST", "/admin/logout", {}, None), ("POST", "/admin/imports", {}, None),
    ]  # fmt: skip
    wrong = []
    for _method, url, data, _ in posts:
        url = _fill(url, world, role)
        fresh_g()
        resp = client.post(url, data=_fill(data, world, role))
        if resp.status_code != 400:
            wrong.append((url, resp.status_code))
    assert wrong == []
