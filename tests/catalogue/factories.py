"""Test data for the catalogue: merchants (with owner/clerk tokens), members, offers, deals."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

from marketplace.auth.models import Account
from marketplace.auth.tokens import issue_token, publish_versions
from marketplace.extensions import db
from marketplace.members.models import Card, Member
from marketplace.merchants import Merchant
from marketplace.models import utcnow

PASSWORD = "cat-pass-123"
_hash_cache: list[str] = []
_seq = itertools.count(1)

HOME = "130102"  # 长安区, Shijiazhuang
OTHER_DISTRICT = "130104"  # 桥西区, Shijiazhuang
BEIJING = "110105"  # 朝阳区, Beijing (alliance jjj)


def password_hash() -> str:
    if not _hash_cache:
        from marketplace.auth.passwords import hash_password

        _hash_cache.append(hash_password(PASSWORD))
    return _hash_cache[0]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def merchant(
    name="老北京火锅",
    category="dining",
    region=HOME,
    status="approved",
    name_en=None,
    address="中山路1号",
    keywords="",
    hours="10:00-22:00",
    clerk=False,
):
    """Returns (merchant, owner_token, clerk_token or None)."""
    from catalogue.models import MerchantProfile
    from catalogue.search import normalise

    n = next(_seq)
    m = Merchant(
        name_zh=name,
        name_en=name_en,
        category=category,
        region=region,
        address=address,
        status=status,
        approved_at=utcnow(),
    )
    db.session.add(m)
    db.session.flush()
    db.session.add(
        MerchantProfile(
            merchant_id=m.id,
            opening_hours=hours,
            keywords=keywords,
            search_text=normalise(name, name_en, keywords, address),
        )
    )
    accounts = [
        Account(username=f"owner{n}", role="merchant_owner", password_hash="x", merchant_id=m.id)
    ]
    if clerk:
        accounts.append(
            Account(
                username=f"clerk{n}", role="merchant_clerk", password_hash="x", merchant_id=m.id
            )
        )
    db.session.add_all(accounts)
    db.session.commit()
    publish_versions([(a.id, 0) for a in accounts])
    tokens = [issue_token(a)["access_token"] for a in accounts]
    return m, tokens[0], tokens[1] if clerk else None


def member(region=HOME, active=True, password=False):
    """Returns (member_id, token, card_no)."""
    n = next(_seq)
    card_no = f"6222{n:012d}"
    m = Member(
        name=f"会员{n}",
        id_hash=hashlib.sha256(card_no.encode()).hexdigest(),
        id_last4=f"{n % 10000:04d}",
        phone="13800000000",
        region=region,
    )
    m.cards.append(Card(card_no=card_no, status="active" if active else "issued"))
    db.session.add(m)
    db.session.flush()
    account = Account(
        username=card_no,
        role="member",
        member_id=m.id,
        password_hash=password_hash() if password else "x",
    )
    db.session.add(account)
    db.session.commit()
    publish_versions([(account.id, 0)])
    return m.id, issue_token(account)["access_token"], card_no


def offer_body(**overrides) -> dict:
    now = utcnow()
    body = {
        "title": "凭卡八折",
        "title_en": "20% off with your card",
        "terms": "周一至周五可用",
        "category": "dining",
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=30)).isoformat(),
    }
    return body | overrides


def deal_body(**overrides) -> dict:
    now = utcnow()
    body = {
        "mode": "tipping",
        "title": "双人火锅套餐",
        "title_en": "Hotpot for two",
        "description": "含锅底",
        "category": "dining",
        "member_price_cents": 9900,
        "usual_price_cents": 19800,
        "min_participants": 2,
        "max_participants": 3,
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "deadline": (now + timedelta(hours=1)).isoformat(),
        "voucher_valid_until": (now + timedelta(days=30)).isoformat(),
    }
    return body | overrides


def create(client, path: str, token: str, body: dict) -> dict:
    resp = client.post(path, json=body, headers=bearer(token))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


__all__ = ["timedelta", "utcnow"]


def login(client, card_no: str) -> None:
    """Log a test client in as the member with this card (the Flask-Login session cookie)."""
    account = db.session.execute(db.select(Account).where(Account.username == card_no)).scalar_one()
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:{account.token_version}"
        session["_fresh"] = True
