"""Test data for members and accounts (shared by tests/members and tests/auth)."""

from __future__ import annotations

from datetime import date

from marketplace.members.bulk import BulkSpec, person

SPEC = BulkSpec(card_prefix="621700", id_region="130102", birth_start=date(1990, 3, 1))
PASSWORD = "s3cret-pass"


def details(n: int = 1, **overrides) -> dict:
    """Roster details of test person ``n`` (valid ID, Luhn-valid card, known region)."""
    return person(SPEC, n) | overrides


def register(n: int = 1, **overrides):
    from marketplace.members.services import register_member

    d = details(n, **overrides)
    return register_member(
        **{k: d[k] for k in ("card_no", "name", "id_number", "phone", "region", "branch")}
    )


def activation_body(n: int = 1, password: str = PASSWORD, **overrides) -> dict:
    d = details(n, **overrides)
    return {k: d[k] for k in ("card_no", "name", "id_number", "phone")} | {"password": password}


def activated_member(client, n: int = 1, password: str = PASSWORD) -> tuple[dict, str]:
    """Register and activate person ``n`` through the API; returns (details, token)."""
    register(n)
    resp = client.post("/api/v1/members/activate", json=activation_body(n, password))
    assert resp.status_code == 200, resp.get_json()
    return details(n), resp.get_json()["access_token"]


def admin_token(client, username: str = "root", password: str = "admin-pass-1") -> str:
    from marketplace.auth.services import create_account

    create_account(username, password, "admin")
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
