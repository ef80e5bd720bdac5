"""Migrations build the same schema as the models, up and down, on SQLite and PostgreSQL."""

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from marketplace.extensions import db
from shihui import create_app
from tests.conftest import skip_or_fail


def _pg_url():
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not url or not url.startswith("postgres"):
        skip_or_fail("postgres", "set TEST_DATABASE_URL to a PostgreSQL database to run this")
    from marketplace.config import normalise_database_url

    return normalise_database_url(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = _pg_url()
    schema = f"migtest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _tables(app):
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_matches_models(empty_database, app_config):
    app = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=empty_database))
    with app.app_context():
        expected = {t.name for t in db.metadata.sorted_tables}
        upgrade()
        assert _tables(app) == expected
        downgrade(revision="base")
        assert _tables(app) == set()
        upgrade()
        assert _tables(app) == expected
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        # Only differences that matter: missing/extra tables, columns, indexes, constraints.
        assert [d for d in diff if d[0] not in ("modify_comment",)] == [], diff
        db.engine.dispose()


def test_accounts_merchant_fk_stops_on_orphans_then_is_enforced(empty_database, app_config):
    from sqlalchemy.exc import IntegrityError

    app = create_app(dict(app_config, SQLALCHEMY_DATABASE_URI=empty_database))
    insert = text(
        "INSERT INTO accounts (username, role, password_hash, merchant_id, is_active, "
        "token_version, created_at) VALUES (:u, 'merchant_clerk', 'x', :m, true, 0, "
        "CURRENT_TIMESTAMP)"
    )
    with app.app_context():
        upgrade(revision="0005")
        with db.engine.begin() as conn:
            conn.execute(insert, {"u": "stray", "m": 999})
        with pytest.raises(SystemExit) as stopped:  # `shihui db upgrade` logs it and exits 1
            upgrade()
        assert "stray (id 1) -> merchant 999" in str(stopped.value.__context__)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET merchant_id = NULL"))
        upgrade()
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert, {"u": "stray2", "m": 999})
        downgrade(revision="0005")  # and back: the constraint goes, orphans are allowed again
        with db.engine.begin() as conn:
            conn.execute(insert, {"u": "stray3", "m": 999})
        db.engine.dispose()
