"""A failing SQL statement is logged without the personal data it carried."""

import json
import logging

import pytest

from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.observability import JsonFormatter

NAME, PHONE = "张测试", "13912345678"


def shihui_formatter() -> logging.Formatter:
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_shihui", False)]
    return handler.formatter


class Collect(logging.Handler):
    def __init__(self, formatter):
        super().__init__(logging.ERROR)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_failing_statement_logs_no_bound_name_or_phone(app, fmt):
    @app.get("/_test/bad-insert")
    def bad_insert():
        # region NULL violates NOT NULL; PostgreSQL quotes the whole row in its DETAIL line
        db.session.add(Member(name=NAME, id_hash="h" * 64, id_last4="0012", phone=PHONE))
        db.session.flush()
        return "unreachable"

    formatter = JsonFormatter() if fmt == "json" else shihui_formatter()
    collect = Collect(formatter)
    logging.getLogger().addHandler(collect)
    try:
        resp = app.test_client().get("/_test/bad-insert")
    finally:
        logging.getLogger().removeHandler(collect)
    assert resp.status_code == 500
    assert PHONE not in resp.get_data(as_text=True)
    text = "\n".join(collect.lines)
    assert "IntegrityError" in text and "members" in text  # the failure itself is logged
    if fmt == "json":
        assert json.loads(collect.lines[-1])["exc"]
    assert PHONE not in text and NAME not in text
    assert json.dumps(NAME) not in text  # not even escaped
    assert "[SQL parameters hidden" in text  # hide_parameters is on
