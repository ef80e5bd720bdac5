import secrets

import pytest

from marketplace.config import (
    DEFAULT_SECRET,
    ConfigError,
    generate_secret,
    load_config,
    rq_url_for,
    secret_weakness,
)


def test_production_refuses_missing_secret():
    with pytest.raises(ConfigError):
        load_config({"SHIHUI_ENV": "production"})


def test_production_refuses_default_secret():
    with pytest.raises(ConfigError):
        load_config({"SHIHUI_ENV": "production", "SECRET_KEY": DEFAULT_SECRET})


def test_production_accepts_real_secret_and_uses_json_logs():
    cfg = load_config({"SHIHUI_ENV": "production", "SECRET_KEY": generate_secret()})
    assert cfg["LOG_FORMAT"] == "json"
    assert cfg["SESSION_COOKIE_SECURE"] is True


def test_defaults_are_sqlite_and_embedded_redis(tmp_path):
    cfg = load_config({}, instance_path=str(tmp_path))
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'shihui.db'}"
    assert cfg["REDIS_URL"] is None


def test_postgres_urls_use_psycopg3():
    cfg = load_config({"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h:6379/3"})
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert cfg["RQ_REDIS_URL"] == "redis://h:6379/4"


def test_feature_tunables_pass_through_from_the_environment():
    cfg = load_config({"LOGIN_IP_LIMIT": "3/minute", "FLASHSALE_CLAIM_RATE": "2"})
    assert cfg["LOGIN_IP_LIMIT"] == "3/minute"
    assert cfg["FLASHSALE_CLAIM_RATE"] == "2"
    assert "ACTIVATION_CARD_LIMIT" not in load_config({})


def test_rq_gets_its_own_database():
    assert rq_url_for("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/1"
    assert rq_url_for("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379/1"


@pytest.mark.parametrize(
    "weak",
    [
        "a" * 32,
        "a" * 64,
        "ab" * 24,
        "abcdefghijklmnopqrstuvwxyz012345",
        "0123456789" * 4,
        "k3Y!" * 10,
        "please-change-this-secret-key-0123456789",
        "Tr0ub4dor&3",
    ],
)
def test_production_refuses_low_entropy_secrets(weak):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"SHIHUI_ENV": "production", "SECRET_KEY": weak})
    assert load_config({"SECRET_KEY": weak})["SECRET_KEY"] == weak  # development allows it


def test_production_refuses_a_weak_id_hash_key():
    strong = secrets.token_urlsafe(48)
    with pytest.raises(ConfigError, match="ID_HASH_KEY"):
        load_config({"SHIHUI_ENV": "production", "SECRET_KEY": strong, "ID_HASH_KEY": "a" * 32})
    cfg = load_config({"SHIHUI_ENV": "production", "SECRET_KEY": strong})
    assert cfg["ID_HASH_KEY"] == strong


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(16),
                                  lambda: secrets.token_hex(32), generate_secret])  # fmt: skip
def test_production_accepts_generated_secrets(make):
    for _ in range(200):  # random keys pass every time, not by luck
        key = make()
        assert secret_weakness(key) is None, key
    assert load_config({"SHIHUI_ENV": "production", "SECRET_KEY": key})["PRODUCTION"]
