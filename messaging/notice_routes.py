"""Notices API (``/api/v1/messages/notices``, ``/preferences``, ``/reminders``) and the real-time
settings for apps (``/api/v1/messages/realtime``, ``/api/v1/admin/realtime``)."""

from __future__ import annotations

import json

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from marketplace import notices as signals
from marketplace.auth import auth_required, current_principal
from marketplace.errors import NotFound
from marketplace.pagination import PageArgsSchema, page_schema

from . import notices, realtime, reminders

member_bp = Blueprint(
    "notices", __name__, url_prefix="/api/v1/messages",
    description="System notices (reminders, results, receipts), their preferences, reminders",
)  # fmt: skip
admin_bp = Blueprint(
    "realtime_admin", __name__, url_prefix="/api/v1/admin",
    description="Real-time events for the admins' inbox",
)  # fmt: skip


class NoticeSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    text = fields.Method("_text", metadata={"description": "Plain text; display escaped."})
    payload = fields.Method("_payload")
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)

    def _text(self, notice):
        return notices.text_of(notice)

    def _payload(self, notice):
        return json.loads(notice.payload or "{}")


class MarkedSchema(Schema):
    marked = fields.Integer()


class PreferenceSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(list(notices.CATEGORIES)))
    label = fields.String(dump_only=True)
    inbox = fields.Boolean(load_default=True)
    outbound = fields.Boolean(load_default=False)


class PreferencesSchema(Schema):
    preferences = fields.List(fields.Nested(PreferenceSchema), required=True,
                              validate=validate.Length(max=20))  # fmt: skip


class ReminderSchema(Schema):
    subject_kind = fields.String()
    subject_id = fields.Integer()
    remind_at = fields.DateTime()
    status = fields.String()


class RealtimeSchema(Schema):
    url = fields.String(metadata={"description": "Server-Sent Events URL; empty: poll instead"})
    token = fields.String()
    poll = fields.Integer(metadata={"description": "Seconds between polls without the stream"})


@member_bp.route("/notices")
class Notices(MethodView):
    @auth_required("notice.own")
    @member_bp.arguments(PageArgsSchema, location="query")
    @member_bp.response(200, page_schema(NoticeSchema, "NoticePageSchema"))
    def get(self, args):
        """The member's notices, newest first."""
        return notices.member_notices(current_principal().member_id, **args).as_response()


@member_bp.route("/notices/read")
class NoticesRead(MethodView):
    @auth_required("notice.own")
    @member_bp.response(200, MarkedSchema)
    def post(self):
        """Mark every notice read."""
        return {"marked": notices.mark_all_read(current_principal().member_id)}


@member_bp.route("/preferences")
class Preferences(MethodView):
    @auth_required("notice.own")
    @member_bp.response(200, PreferencesSchema)
    def get(self):
        """Which kinds of notices the member gets, in the inbox and outside the app."""
        return {"preferences": notices.preferences(current_principal().member_id)}

    @auth_required("notice.own")
    @member_bp.arguments(PreferencesSchema)
    @member_bp.response(200, PreferencesSchema)
    def put(self, data):
        """Change some categories (those not named keep their setting)."""
        member_id = current_principal().member_id
        return {"preferences": notices.set_preferences(member_id, data["preferences"])}


def _kind(kind: str) -> str:
    if kind not in signals.subject_kinds():
        raise NotFound("Nothing of that kind can be reminded of.")
    return kind


@member_bp.route("/reminders/<string:kind>/<int:subject_id>")
class Reminders(MethodView):
    @auth_required("notice.own")
    @member_bp.response(200, ReminderSchema)
    def put(self, kind, subject_id):
        """Remind me 10 minutes before it opens (idempotent; 409 ``not_remindable`` or
        ``already_open``)."""
        return reminders.remind_me(current_principal().member_id, _kind(kind), subject_id)

    @auth_required("notice.own")
    @member_bp.response(204)
    def delete(self, kind, subject_id):
        """No reminder after all."""
        reminders.forget(current_principal().member_id, _kind(kind), subject_id)


@member_bp.route("/realtime")
class MemberRealtime(MethodView):
    @auth_required("message.read")
    @member_bp.response(200, RealtimeSchema)
    def get(self):
        """Where to listen for the member's events (Server-Sent Events), or how often to poll."""
        return realtime.page_settings(current_principal())


@admin_bp.route("/realtime")
class AdminRealtime(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.response(200, RealtimeSchema)
    def get(self):
        """Where to listen for the conversations of one's subtree."""
        return realtime.page_settings(current_principal())
