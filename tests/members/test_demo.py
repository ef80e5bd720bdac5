"""The demo loader: 1,000 activated members, cards to activate, an admin (load time printed)."""

import time

from marketplace.extensions import db
from marketplace.members.models import Card
from shihui.demo import DEMO_LOGINS, LOADERS, load_demo


def test_demo_members_and_logins(app_ctx, client, capsys):
    assert "marketplace.members.demo.load_members" in LOADERS
    started = time.perf_counter()
    lines = [line for line in load_demo() if line.startswith(("members", "admin"))]
    with capsys.disabled():  # a figure for the reader, not a verdict on a shared machine
        print(f"\ndemo data loaded in {time.perf_counter() - started:.2f} s")
    assert any("1000 activated members" in line for line in lines)
    active = db.session.scalar(
        db.select(db.func.count()).select_from(Card).where(Card.status == "active")
    )
    assert active == 1000
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "6222000000000017", "password": "demo12345"}
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": "admin12345"}
        ).status_code
        == 200
    )
    waiting = {
        "card_no": "6222010000000016",
        "name": "李伟",
        "id_number": "130104198506010019",
        "phone": "13700000001",
        "password": "my-password",
    }
    assert client.post("/api/v1/members/activate", json=waiting).status_code == 200
    assert any("6222000000000017" in line for line in DEMO_LOGINS)
