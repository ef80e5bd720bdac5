"""Demo merchants (with owner and clerk logins), a live flash sale and an upcoming one."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from marketplace.models import utcnow

DEMO_PASSWORD = "merchant12345"  # noqa: S105 - printed by `shihui up` on purpose
# fmt: off
MERCHANTS = [
    # Shijiazhuang districts (GB/T 2260): 长安区, 桥西区, 裕华区.
    ("星光影城", "Starlight Cinema", "cinema", "owner_cinema", "clerk_cinema", "130102",
     "石家庄市长安区中山东路 1 号"),
    ("城市大剧院", "City Grand Theatre", "performance_venue", "owner_theatre", None, "130104",
     "石家庄市桥西区自强路 2 号"),
    ("洁亮洗车", "Sparkle Car Wash", "car_wash", "owner_carwash", None, "130108",
     "石家庄市裕华区槐安东路 3 号"),
]
# fmt: on


def load_flashsale():
    from marketplace.auth.services import create_account
    from marketplace.merchants import create_merchant

    from . import services

    now = utcnow()
    owners = {}
    for name_zh, name_en, category, owner, clerk, region, address in MERCHANTS:
        merchant, account = create_merchant(
            name_zh=name_zh, name_en=name_en, category=category, region=region,
            address=address, owner=owner, password=DEMO_PASSWORD,
        )  # fmt: skip
        if clerk:
            create_account(clerk, DEMO_PASSWORD, "merchant_clerk", merchant_id=merchant.id)
        owners[category] = SimpleNamespace(
            account_id=account.id, role="merchant_owner", merchant_id=merchant.id
        )
        yield f"merchant {name_zh} ({name_en}): owner {owner} / {DEMO_PASSWORD}"
    sales = [
        ("cinema", "周末电影免费票", "Free weekend movie ticket", "movie", "3 号厅", 100,
         now - timedelta(minutes=5), now + timedelta(days=7)),
        ("performance_venue", "新年音乐会门票", "New Year concert ticket", "concert", "主厅", 50,
         now + timedelta(hours=2), now + timedelta(days=3)),
        ("car_wash", "免费精洗一次", "One free premium wash", "car_wash", "人民路店", 200,
         now - timedelta(minutes=5), now + timedelta(days=14)),
    ]  # fmt: skip
    for category, title, title_en, kind, venue, stock, starts, ends in sales:
        owner = owners[category]
        campaign = services.create(
            owner,
            {
                "title": title, "title_en": title_en,
                "description": "工会会员专享，每人限领 1 张。",
                "description_en": "For union members only, one per member.", "category": kind,
                "venue": venue, "total_stock": stock, "per_member_limit": 1,
                "starts_at": starts, "ends_at": ends, "valid_from": starts,
                "valid_until": ends + timedelta(days=30), "cancel_deadline": ends,
            },
        )  # fmt: skip
        services.publish(owner, campaign.id)
        yield f"flash sale {title} ({title_en}): {stock} tickets, from {starts:%Y-%m-%d %H:%M} UTC"
