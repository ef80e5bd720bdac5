"""Demo directory: Shijiazhuang merchants with profiles, offers, a tipping deal and a team deal."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from marketplace.models import utcnow

DEMO_PASSWORD = "merchant12345"  # noqa: S105 - printed by `shihui up` on purpose
MERCHANTS = [
    ("老北京涮肉", "Old Beijing Hotpot", "dining", "130102", "中山东路 88 号", "涮肉 铜锅 火锅",
     "owner_hotpot"),
    ("正定古城景区", "Zhengding Ancient Town", "scenic_spot", "130123", "正定县燕赵南大街",
     "古城 景区 门票", "owner_zhengding"),
    ("万象书店", "Vientiane Books", "retail", "130104", "裕华西路 16 号", "书店 文具",
     "owner_books"),
]  # fmt: skip


def load_catalogue():
    from marketplace.merchants import create_merchant

    from . import directory
    from . import groupbuy_admin as groupbuys

    now = utcnow()
    shops = []
    for name_zh, name_en, category, region, address, keywords, owner in MERCHANTS:
        merchant, account = create_merchant(
            name_zh=name_zh, name_en=name_en, category=category, region=region,
            address=address, owner=owner, password=DEMO_PASSWORD,
        )  # fmt: skip
        actor = SimpleNamespace(id=account.id, role="merchant_owner")
        directory.update_profile(merchant, actor, opening_hours="09:00-21:00", keywords=keywords)
        shops.append((merchant, actor))
        yield f"merchant {name_zh} ({name_en}): owner {owner} / {DEMO_PASSWORD}"
    offer = {"valid_from": now - timedelta(days=1), "valid_until": now + timedelta(days=90)}
    hotpot, scenic, books = shops
    directory.create_offer(*hotpot, offer | {
        "title": "凭卡 8 折", "title_en": "20% off with your card", "category": "dining",
        "terms": "出示已激活的工会卡，堂食 8 折，酒水除外。"})  # fmt: skip
    directory.create_offer(*scenic, offer | {
        "title": "京津冀工会会员门票半价", "title_en": "Half-price entry for JJJ union members",
        "category": "scenic_spot", "alliance": True,
        "terms": "京津冀工会会员凭卡购票半价。"})  # fmt: skip
    directory.create_offer(*books, offer | {
        "title": "会员价 39 元文创礼包", "title_en": "Gift pack at member price ¥39",
        "category": "retail", "regions": ["130104"], "terms": "限桥西区会员。"})  # fmt: skip
    yield "offers: 3 (one for the Beijing-Tianjin-Hebei alliance, one for 桥西区 only)"
    deal = {"opens_at": now - timedelta(minutes=5), "voucher_valid_until": now + timedelta(days=60),
            "description": "工会会员团购，到店付款。", "per_member_limit": 1}  # fmt: skip
    groupbuys.create_groupbuy(hotpot[0], hotpot[1], deal | {
        "mode": "tipping", "title": "双人涮肉套餐", "title_en": "Hotpot set for two",
        "category": "dining", "member_price_cents": 9900, "usual_price_cents": 19800,
        "min_participants": 10, "max_participants": 100,
        "deadline": now + timedelta(days=3)})  # fmt: skip
    groupbuys.create_groupbuy(scenic[0], scenic[1], deal | {
        "mode": "team", "title": "三人成团古城通票", "title_en": "Old-town pass, teams of three",
        "category": "scenic_spot", "member_price_cents": 3000, "usual_price_cents": 8000,
        "min_participants": 1, "max_participants": 90, "team_size": 3,
        "team_window_seconds": 24 * 3600, "deadline": now + timedelta(days=7)})  # fmt: skip
    yield "group-buys: a tipping-point hotpot deal (10 to tip) and a team deal (teams of 3, 24 h)"
