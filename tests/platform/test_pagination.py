from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from marketplace.extensions import api, db
from marketplace.models import AuditEvent
from marketplace.pagination import PageArgsSchema, page_schema, paginate


class EventSchema(Schema):
    id = fields.Integer()
    action = fields.String()


def test_page_envelope_and_links(app):
    blp = Blueprint("pagetest", __name__, url_prefix="/api/v1/pagetest")

    @blp.route("/")
    class Events(MethodView):
        @blp.arguments(PageArgsSchema, location="query")
        @blp.response(200, page_schema(EventSchema, "EventPageSchema"))
        def get(self, args):
            page = paginate(select(AuditEvent).order_by(AuditEvent.id), **args)
            return page.as_dict(), 200, {"Link": page.link_header()}

    api.register_blueprint(blp)
    with app.app_context():
        for i in range(45):
            db.session.add(AuditEvent(action=f"a{i}", subject_type="t", subject_id=str(i)))
        db.session.commit()
    client = app.test_client()
    resp = client.get("/api/v1/pagetest/?page=2&per_page=20")
    body = resp.get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 20, 45, 3)
    assert [e["action"] for e in body["items"]][:2] == ["a20", "a21"]
    assert 'rel="next"' in resp.headers["Link"] and 'rel="prev"' in resp.headers["Link"]
    bad = client.get("/api/v1/pagetest/?per_page=1000")
    assert bad.status_code == 422
    assert "per_page" in bad.get_json()["errors"]
