"""Request and response shapes of the messaging API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.validation import id_field

from .models import AUDIENCES, LINK_KINDS


class AnnouncementCreateSchema(Schema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Surrounding spaces are trimmed: 1 to 200 characters."},
    )
    body = fields.String(
        required=True,
        validate=validate.Length(min=1, max=20_000),
        metadata={"description": "Markdown; rendered to sanitised HTML (no raw HTML, no script). "
                  "Surrounding spaces are trimmed: 1 to 20000 characters."},
    )  # fmt: skip
    audience = fields.String(
        validate=validate.OneOf(AUDIENCES),
        metadata={"description": "all / region: the city admin only; org: a node of one's "
                  "subtree (default: one's own node)"},
    )  # fmt: skip
    audience_org_id = id_field(allow_none=True)
    audience_region = fields.String(
        allow_none=True,
        validate=validate.Length(equal=6),
        metadata={"description": "With audience region: a code of the regions served, else "
                  "'Unknown region code.'"},
    )  # fmt: skip
    activated_only = fields.Boolean(load_default=False)
    publish_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "Omitted or past: now. At most a year ahead."},
    )
    link_kind = fields.String(
        allow_none=True,
        validate=validate.OneOf(LINK_KINDS),
        metadata={"description": "With link_id (an existing one, else 404): "
                  "sale, offer or groupbuy, with link_id."},
    )  # fmt: skip
    link_id = id_field(allow_none=True)


class AnnouncementSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    body_html = fields.String(metadata={"description": "Sanitised HTML"})
    body = fields.String(attribute="body_md")
    audience = fields.String()
    audience_org_id = id_field(allow_none=True)
    audience_region = fields.String(allow_none=True)
    activated_only = fields.Boolean()
    link_kind = fields.String(allow_none=True)
    link_id = fields.Integer(allow_none=True)
    has_cover = fields.Function(lambda a: a.cover_type is not None)
    publish_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)
    status = fields.Method("_status")

    def _status(self, a):
        from marketplace.models import utcnow

        return a.status(utcnow())


class InboxItemSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    publish_at = fields.DateTime()
    read = fields.Function(lambda i: i["read_at"] is not None)


class UnreadSchema(Schema):
    announcements = fields.Integer()


class ByOrgSchema(Schema):
    org_id = fields.Integer(allow_none=True)
    name = fields.String()
    audience = fields.Integer()
    read = fields.Integer()


class ReadStatsSchema(Schema):
    announcement_id = fields.Integer()
    audience = fields.Integer()
    read = fields.Integer()
    by_org = fields.List(fields.Nested(ByOrgSchema))
