"""shihui members import, shihui admin create, shihui loadtest members."""

import csv

from marketplace.auth import verify_token
from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.members.models import Member
from tests.members.helpers import bearer, details
from tests.members.test_import import good, roster


def test_members_import_with_progress(runner, app_ctx, tmp_path):
    f = tmp_path / "名单.csv"
    f.write_bytes(roster([good(n) for n in range(1, 31)] + [good(40, region="1")], "gb18030"))
    result = runner.invoke(args=["members", "import", str(f)])
    assert result.exit_code == 0, result.output
    assert "30 created, 0 already present, 1 rejected (gb18030)" in result.output
    assert "bad_region" in result.output
    again = runner.invoke(args=["members", "import", str(f)])
    assert "0 created, 30 already present" in again.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 30


def test_members_import_bad_header(runner, app_ctx, tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("a,b\n1,2\n")
    result = runner.invoke(args=["members", "import", str(f)])
    assert result.exit_code != 0 and "card_no" in result.output


def test_admin_create_with_option_and_prompt(runner, app_ctx, client):
    assert (
        runner.invoke(args=["admin", "create", "chief", "--password", "chief-pass-1"]).exit_code
        == 0
    )
    prompted = runner.invoke(args=["admin", "create", "deputy"], input="deputy-pass\ndeputy-pass\n")
    assert prompted.exit_code == 0, prompted.output
    roles = dict(db.session.execute(db.select(Account.username, Account.role)).all())
    assert roles == {"chief": "admin", "deputy": "admin"}
    token = client.post(
        "/api/v1/auth/token", json={"username": "deputy", "password": "deputy-pass"}
    )
    assert token.get_json()["role"] == "admin"


def test_admin_create_refuses_duplicates_weak_passwords_and_card_like_names(runner, app_ctx):
    runner.invoke(args=["admin", "create", "chief", "--password", "chief-pass-1"])
    dup = runner.invoke(args=["admin", "create", "chief", "--password", "chief-pass-2"])
    assert dup.exit_code != 0 and "taken" in dup.output
    weak = runner.invoke(args=["admin", "create", "other", "--password", "short"])
    assert weak.exit_code != 0 and "8 characters" in weak.output
    digits = runner.invoke(
        args=["admin", "create", details(1)["card_no"], "--password", "long-enough"]
    )
    assert digits.exit_code != 0


def test_loadtest_members_writes_ready_tokens(runner, app_ctx, client, tmp_path):
    out = tmp_path / "members.csv"
    result = runner.invoke(args=["loadtest", "members", "--count", "120", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 120 and len({r["card_no"] for r in rows}) == 120
    p = verify_token(rows[7]["token"])
    assert p.card_active and p.card_no == rows[7]["card_no"]
    me = client.get("/api/v1/me", headers=bearer(rows[-1]["token"])).get_json()
    assert me["card"]["status"] == "active"
    login = client.post(
        "/api/v1/auth/token", json={"username": rows[0]["card_no"], "password": "loadtest-pass"}
    )
    assert login.status_code == 200
    more = runner.invoke(args=["loadtest", "members", "--count", "5", "--out", str(out)])
    assert more.exit_code == 0, more.output  # a second run adds new members, no clashes
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 125
