"""Authorization matrix: every portal page and API endpoint of the merchant portal (sales, staff,
counter, offers, group-buys) and the admin console, for anonymous, member, clerk, owner of
another merchant, owner of a suspended merchant, the owner, and an admin. Pages post with a valid
CSRF token here; test_csrf_* posts without."""

from __future__ import annotations

import itertools

import pytest

from marketplace.extensions import db
from marketplace.members.importer import new_import
from merchant_portal import onboarding
from merchant_portal.models import CoverImage
from tests.catalogue.factories import create, deal_body, offer_body
from tests.flashsale.factories import create_sale, make_members, make_merchant

from .conftest import csrf_of, fresh_g

ROLES = ("anon", "member", "clerk", "other", "suspended", "owner", "admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def expect(default, **by_role):
    return {role: by_role.get(role, default) for role in ROLES}


# Pages: "login" = redirected to a login page.
PUBLIC = expect(200)
OWNER_LIST = expect(403, anon="login", other=200, suspended=200, owner=200)
OWNER_OBJ = expect(403, anon="login", other=404, suspended=404, owner=200)
STAFF_LIST = expect(403, anon="login", clerk=200, other=200, suspended=200, owner=200)
STAFF_OBJ = expect(403, anon="login", clerk=200, other=404, suspended=404, owner=200)
ADMIN = expect(403, anon="login", admin=200)
SELLING = expect(403, anon="login", other=200, owner=200)

PAGES = [
    ("GET", "/merchant/apply", None, PUBLIC),
    ("GET", "/merchant/login", None, PUBLIC),
    ("GET", "/admin/login", None, PUBLIC),
    ("GET", "/merchant/media/covers/{cover}", None, PUBLIC),
    ("GET", "/merchant/", None, OWNER_LIST | {"clerk": 302}),
    ("GET", "/merchant/dashboard.json", None, OWNER_LIST),
    ("GET", "/merchant/sales", None, OWNER_LIST),
    ("GET", "/merchant/sales/new", None, SELLING),
    ("POST", "/merchant/sales/new", {}, SELLING | {"other": 422, "owner": 422}),
    ("GET", "/merchant/sales/{sale}", None, OWNER_OBJ),
    ("GET", "/merchant/sales/{sale}/edit", None, OWNER_OBJ),
    ("POST", "/merchant/sales/{sale}/edit", {}, OWNER_OBJ | {"owner": 422}),
    ("GET", "/merchant/sales/{sale}/live.json", None, OWNER_OBJ),
    ("GET", "/merchant/sales/{sale}/claims.svg", None, OWNER_OBJ),
    ("GET", "/merchant/sales/{sale}/redemptions.svg", None, OWNER_OBJ),
    ("GET", "/merchant/sales/{sale}/vouchers.csv", None, OWNER_OBJ),
    ("GET", "/merchant/sales/{sale}/redemptions.csv", None, OWNER_OBJ),
    ("POST", "/merchant/sales/{draft}/publish", {}, OWNER_OBJ | {"owner": 302}),
    ("POST", "/merchant/sales/{own_draft}/publish", {}, SELLING | {"other": 302, "owner": 302}),
    ("POST", "/merchant/sales/{sale}/top-up", {"add": "5"}, OWNER_OBJ | {"owner": 302}),
    (
        "POST",
        "/merchant/sales/{own_sale}/top-up",
        {"add": "5"},
        SELLING | {"other": 302, "owner": 302},
    ),  # fmt: skip
    ("POST", "/merchant/sales/{sale}/duplicate", {}, OWNER_OBJ | {"owner": 302}),
    ("POST", "/merchant/sales/{sale}/cancel", {}, OWNER_OBJ | {"owner": 302}),
    ("GET", "/merchant/staff", None, OWNER_LIST),
    (
        "POST",
        "/merchant/staff",
        {"username": "newclerk{n}", "password": "clerk-pass-1"},
        OWNER_LIST | {"other": 302, "suspended": 302, "owner": 302},
    ),  # fmt: skip
    ("POST", "/merchant/staff/{clerk}/remove", {}, OWNER_OBJ | {"owner": 302}),
    ("GET", "/merchant/counter", None, STAFF_LIST),
    ("GET", "/merchant/counter?code={code}", None, STAFF_OBJ),
    ("POST", "/merchant/counter/redeem", {"code": "{code}", "key": "matrix-key-{n}"}, STAFF_OBJ),
    (
        "POST",
        "/merchant/redemptions/{redemption}/revert",
        {},
        STAFF_OBJ | {"clerk": 302, "owner": 302},
    ),  # fmt: skip
    ("GET", "/merchant/redemptions", None, STAFF_LIST),
    ("GET", "/merchant/audit", None, OWNER_LIST),
    ("GET", "/merchant/offers", None, STAFF_LIST),
    ("GET", "/merchant/offers/new", None, SELLING),
    ("POST", "/merchant/offers/new", {}, SELLING | {"other": 422, "owner": 422}),
    ("GET", "/merchant/offers/{offer}/edit", None, OWNER_OBJ),
    ("POST", "/merchant/offers/{offer}/edit", {}, OWNER_OBJ | {"owner": 422}),
    ("GET", "/merchant/groupbuys", None, STAFF_LIST),
    ("GET", "/merchant/groupbuys/new", None, SELLING),
    ("POST", "/merchant/groupbuys/new", {}, SELLING | {"other": 422, "owner": 422}),
    ("GET", "/merchant/groupbuys/{deal}", None, STAFF_OBJ),
    ("POST", "/merchant/groupbuys/{deal}/cancel", {}, OWNER_OBJ | {"owner": 302}),
    ("GET", "/admin/", None, ADMIN),
    ("GET", "/admin/merchants", None, ADMIN),
    ("GET", "/admin/merchants/{pending}", None, ADMIN),
    ("POST", "/admin/merchants/{pending}/approve", {}, ADMIN | {"admin": 302}),
    (
        "POST",
        "/admin/merchants/{pending2}/reject",
        {"reject-reason": "不符合"},
        ADMIN | {"admin": 302},
    ),  # fmt: skip
    (
        "POST",
        "/admin/merchants/{shop}/suspend",
        {"suspend-reason": "投诉"},
        ADMIN | {"admin": 302},
    ),  # fmt: skip
    ("POST", "/admin/merchants/{suspended_shop}/reinstate", {}, ADMIN | {"admin": 302}),
    ("GET", "/admin/sales", None, ADMIN),
    ("GET", "/admin/imports", None, ADMIN),
    ("GET", "/admin/imports/{import}", None, ADMIN),
    ("GET", "/admin/imports/{import}/progress.json", None, ADMIN),
    ("GET", "/admin/imports/{import}/rejected.csv", None, ADMIN),
    ("GET", "/admin/cards", None, ADMIN),
    ("POST", "/admin/cards/freeze", {"card_no": "{card}"}, ADMIN | {"admin": 302}),
    (
        "POST",
        "/admin/cards/reissue",
        {"member_id": "{member}", "new_card_no": "6222099999999999"},
        ADMIN | {"admin": 302},
    ),  # fmt: skip
    ("GET", "/admin/audit", None, ADMIN),
]

# API: no token 401, wrong role 403, another merchant's object 404.
A_OWNER = expect(403, anon=401, other=200, suspended=200, owner=200)
A_OWNER_OBJ = expect(403, anon=401, other=404, suspended=404, owner=200)
A_STAFF = expect(403, anon=401, clerk=200, other=200, suspended=200, owner=200)
A_ADMIN = expect(403, anon=401, admin=200)
APPLICATION = {
    "business_name": "申请者", "licence_no": "91310101MA1FPX{n:04d}", "category": "dining",
    "region": "310101", "address": "某路 1 号", "contact_name": "张三",
    "contact_phone": "13800001111", "owner_username": "applicant{n}",
    "owner_password": "applicant-pass",
}  # fmt: skip

API = [
    ("POST", "/api/v1/merchant-applications", APPLICATION, expect(201)),
    ("GET", "/api/v1/merchant/me", None, A_STAFF),
    ("GET", "/api/v1/merchant/staff", None, A_OWNER),
    (
        "POST",
        "/api/v1/merchant/staff",
        {"username": "apiclerk{n}", "password": "clerk-pass-1"},
        A_OWNER | {"other": 201, "suspended": 201, "owner": 201},
    ),  # fmt: skip
    ("DELETE", "/api/v1/merchant/staff/{clerk}", None, A_OWNER_OBJ),
    ("GET", "/api/v1/merchant/dashboard", None, A_OWNER),
    ("GET", "/api/v1/merchant/campaigns/{sale}/live", None, A_OWNER_OBJ),
    ("POST", "/api/v1/merchant/campaigns/{sale}/top-up", {"add": 1}, A_OWNER_OBJ),
    (
        "POST",
        "/api/v1/merchant/campaigns/{own_sale}/top-up",
        {"add": 1},
        A_OWNER | {"suspended": 403},
    ),  # fmt: skip
    ("POST", "/api/v1/merchant/campaigns/{sale}/duplicate", None, A_OWNER_OBJ | {"owner": 201}),
    ("GET", "/api/v1/merchant/campaigns/{sale}/vouchers.csv", None, A_OWNER_OBJ),
    ("GET", "/api/v1/merchant/campaigns/{sale}/redemptions.csv", None, A_OWNER_OBJ),
    (
        "POST",
        "/api/v1/merchant/covers",
        "PNG",
        A_OWNER | {"other": 201, "owner": 201, "suspended": 403},
    ),  # fmt: skip
    ("GET", "/api/v1/merchant/recent-redemptions", None, A_STAFF),
    ("GET", "/api/v1/merchant/audit-events", None, A_OWNER),
    ("GET", "/api/v1/admin/merchant-applications", None, A_ADMIN),
    ("POST", "/api/v1/admin/merchant-applications/{pending}/approve", None, A_ADMIN),
    (
        "POST",
        "/api/v1/admin/merchant-applications/{pending2}/reject",
        {"reason": "不符合"},
        A_ADMIN,
    ),  # fmt: skip
    ("GET", "/api/v1/admin/merchants", None, A_ADMIN),
    ("GET", "/api/v1/admin/merchants/{shop}", None, A_ADMIN),
    (
        "POST",
        "/api/v1/admin/merchants/{shop}/suspend",
        {"reason": "投诉", "vouchers_valid": True},
        A_ADMIN,
    ),  # fmt: skip
    ("POST", "/api/v1/admin/merchants/{suspended_shop}/reinstate", None, A_ADMIN),
    ("GET", "/api/v1/admin/campaigns", None, A_ADMIN),
    ("GET", "/api/v1/admin/audit-events", None, A_ADMIN),
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

    clerk_id = db.session.scalar(db.select(Account.id).where(Account.username == "clerk1"))
    card = db.session.scalar(db.select(Account.username).where(Account.member_id == member_id))
    ids = {
        "shop": shop, "suspended_shop": susp, "sale": sale, "draft": draft, "code": code,
        "redemption": redemption, "pending": pending, "pending2": pending2, "import": imp.id,
        "cover": cover.id, "offer": offer, "deal": deal,
        "clerk": clerk_id, "card": card, "member": member_id,
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
