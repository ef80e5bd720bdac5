"""Production never loads demo data and never prints demo passwords or ID numbers."""

from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.members.models import Member
from shihui import supervisor
from shihui.demo import DEMO_LOGINS, demo_logins


def test_prepare_in_production_skips_demo_data(app_config, tmp_path):
    from marketplace.extensions import get_redis, get_rq_redis
    from shihui import create_app

    db_url = f"sqlite:///{tmp_path / 'prod.db'}"  # an empty database that prepare migrates
    app = create_app(app_config | {"PRODUCTION": True, "SQLALCHEMY_DATABASE_URI": db_url})
    runner = app.test_cli_runner()
    try:
        result = runner.invoke(args=["prepare"])
        assert result.exit_code == 0, result.output
        assert "demo data is never loaded" in result.output
        refused = runner.invoke(args=["demo", "load", "--force"])
        assert refused.exit_code != 0 and "never loaded" in refused.output
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(Account)) == 0
            assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 0
    finally:
        with app.app_context():
            db.engine.dispose()
            get_redis().flushdb()
            get_rq_redis().flushdb()


def test_banner_in_production_shows_no_demo_logins(monkeypatch, capsys):
    monkeypatch.setenv("SHIHUI_ENV", "production")
    assert demo_logins() == []
    supervisor._print_banner("0.0.0.0", 5000)  # noqa: S104
    out = capsys.readouterr().out
    assert "Shihui is up" in out
    for secret in ("admin12345", "demo12345", "merchant12345", "130104198506010019", "Demo"):
        assert secret not in out
    monkeypatch.setenv("SHIHUI_ENV", "development")
    supervisor._print_banner("127.0.0.1", 5000)
    assert "admin12345" in capsys.readouterr().out and demo_logins() == DEMO_LOGINS
