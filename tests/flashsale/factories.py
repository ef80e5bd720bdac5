"""Test data for flash sales: merchants with owner/clerk tokens, members with tokens, sales."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from marketplace.auth.models import Account
from marketplace.auth.tokens import Principal, issue_token, publish_versions
from marketplace.extensions import db
from marketplace.members.models import Card, Member
from marketplace.merchants import Merchant
from marketplace.models import utcnow

PASSWORD_HASH = None  # one real argon2 hash, shared (hashing per account would be slow)
PASSWORD = "test-pass-123"


def _hash() -> str:
    global PASSWORD_HASH
    if PASSWORD_HASH is None:
        from marketplace.auth.passwords import hash_password

        PASSWORD_HASH = hash_password(PASSWORD)
    return PASSWORD_HASH


def token_for(account: Account, principal: Principal | None = None) -> str:
    return issue_token(account, principal)["access_token"]


def make_merchant(name="测试影城", username="owner1", status="approved", clerk=None):
    """Returns (merchant_id, owner_token[, clerk_token])."""
    merchant = Merchant(
        name_zh=name,
        name_en="Test " + username,
        category="cinema",
        region="310101",
        status=status,
        approved_at=utcnow(),
    )
    db.session.add(merchant)
    db.session.flush()
    accounts = [
        Account(
            username=username, role="merchant_owner", password_hash=_hash(), merchant_id=merchant.id
        )
    ]
    if clerk:
        accounts.append(
            Account(
                username=clerk,
                role="merchant_clerk",
                password_hash=_hash(),
                merchant_id=merchant.id,
            )
        )
    db.session.add_all(accounts)
    db.session.commit()
    publish_versions([(a.id, 0) for a in accounts])
    return (merchant.id, *[token_for(a, _principal(a)) for a in accounts])


def _principal(account, member=None, card_active=True, region="310101"):
    return Principal(
        account_id=account.id,
        role=account.role,
        member_id=account.member_id,
        merchant_id=account.merchant_id,
        region=region if member else None,
        card_active=card_active if member else False,
        card_no=account.username if member else None,
    )


def make_members(n: int, start: int = 0, region="310101", active=True) -> list[tuple[int, str]]:
    """n members with cards and logins; returns [(member_id, token)]."""
    members, accounts = [], []
    for i in range(start, start + n):
        card_no = f"62220{i:011d}"
        id_hash = hashlib.sha256(card_no.encode()).hexdigest()
        member = Member(
            name=f"会员{i}",
            id_hash=id_hash,
            id_last4=f"{i % 10000:04d}",
            phone="13800000000",
            region=region,
        )
        member.cards.append(Card(card_no=card_no, status="active" if active else "issued"))
        members.append(member)
    db.session.add_all(members)
    db.session.flush()
    for member in members:
        accounts.append(
            Account(
                username=member.cards[0].card_no,
                role="member",
                password_hash=_hash(),
                member_id=member.id,
            )
        )
    db.session.add_all(accounts)
    db.session.commit()
    publish_versions([(a.id, 0) for a in accounts])
    return [
        (a.member_id, token_for(a, _principal(a, m, active, region)))
        for a, m in zip(accounts, members, strict=True)
    ]


def sale_body(**overrides) -> dict:
    now = utcnow()
    body = {
        "title": "免费电影票",
        "title_en": "Free movie ticket",
        "description": "周末场",
        "category": "movie",
        "venue": "一号厅",
        "total_stock": 10,
        "per_member_limit": 1,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "valid_from": (now - timedelta(minutes=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
        "cancel_deadline": (now + timedelta(hours=1)).isoformat(),
    }
    body.update(overrides)
    return body


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def create_sale(client, owner_token: str, publish=True, **overrides) -> int:
    resp = client.post(
        "/api/v1/merchant/campaigns", json=sale_body(**overrides), headers=bearer(owner_token)
    )
    assert resp.status_code == 201, resp.get_json()
    campaign_id = resp.get_json()["id"]
    if publish:
        resp = client.post(
            f"/api/v1/merchant/campaigns/{campaign_id}/publish", headers=bearer(owner_token)
        )
        assert resp.status_code == 200, resp.get_json()
    return campaign_id
