"""Messaging API: announcements for admins (``/api/v1/admin/announcements``) and the member's
inbox (``/api/v1/messages``)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.auth import auth_required, current_principal
from marketplace.errors import ValidationFailed
from marketplace.extensions import file_upload_body
from marketplace.pagination import PageArgsSchema, page_schema

from . import announcements
from .schemas import (
    AnnouncementCreateSchema,
    AnnouncementSchema,
    InboxItemSchema,
    ReadStatsSchema,
    UnreadSchema,
)

admin_bp = Blueprint(
    "messaging_admin",
    __name__,
    url_prefix="/api/v1/admin/announcements",
    description="Announcements (通知公告) written by the city, district and branch admins",
)
member_bp = Blueprint(
    "messaging",
    __name__,
    url_prefix="/api/v1/messages",
    description="A member's inbox: announcements addressed to them",
)


@admin_bp.route("")
class Announcements(MethodView):
    @auth_required("announcement.manage")
    @admin_bp.arguments(PageArgsSchema, location="query")
    @admin_bp.response(200, page_schema(AnnouncementSchema, "AnnouncementPageSchema"))
    def get(self, args):
        """Announcements written in the caller's subtree, newest first."""
        return announcements.admin_list(current_principal(), **args).as_response()

    @auth_required("announcement.manage")
    @admin_bp.arguments(AnnouncementCreateSchema)
    @admin_bp.response(201, AnnouncementSchema)
    def post(self, data):
        """Publish (now or at ``publish_at``) to an audience: one row, whatever its size."""
        body = {**data, "body": data["body"]}
        return announcements.create(current_principal(), body)


@admin_bp.route("/<int:announcement_id>")
class AnnouncementDetail(MethodView):
    @auth_required("announcement.manage")
    @admin_bp.response(200, AnnouncementSchema)
    def get(self, announcement_id):
        """One announcement of the caller's subtree."""
        return announcements.get_for_admin(current_principal(), announcement_id)


@admin_bp.route("/<int:announcement_id>/cover")
class Cover(MethodView):
    @auth_required("announcement.manage")
    @admin_bp.doc(requestBody=file_upload_body(
        "A JPEG, PNG or WebP picture (checked by its bytes), at most 512 KB: else 413 "
        "image_too_large or 415 unsupported_image."))  # fmt: skip
    @admin_bp.response(200, AnnouncementSchema)
    def put(self, announcement_id):
        """Set the cover picture (multipart field ``file``)."""
        request.max_content_length = announcements.COVER_MAX_BYTES + 64 * 1024
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": ["Upload the picture as field 'file'."]})
        data = upload.read(announcements.COVER_MAX_BYTES + 1)
        return announcements.set_cover(current_principal(), announcement_id, data)


@admin_bp.route("/<int:announcement_id>/withdraw")
class Withdraw(MethodView):
    @auth_required("announcement.manage")
    @admin_bp.response(200, AnnouncementSchema)
    def post(self, announcement_id):
        """Take it out of every inbox (409 ``already_withdrawn`` the second time)."""
        return announcements.withdraw(current_principal(), announcement_id)


@admin_bp.route("/<int:announcement_id>/reads")
class Reads(MethodView):
    @auth_required("announcement.manage")
    @admin_bp.response(200, ReadStatsSchema)
    def get(self, announcement_id):
        """How many of the audience have read it, in total and per organisation node."""
        return announcements.read_stats(current_principal(), announcement_id)


@member_bp.route("/announcements")
class Inbox(MethodView):
    @auth_required("message.read")
    @member_bp.arguments(PageArgsSchema, location="query")
    @member_bp.response(200, page_schema(InboxItemSchema, "InboxPageSchema"))
    def get(self, args):
        """The member's announcements, newest first, each marked read or not."""
        return announcements.inbox(current_principal(), **args).as_response()


@member_bp.route("/announcements/<int:announcement_id>")
class InboxItem(MethodView):
    @auth_required("message.read")
    @member_bp.response(200, AnnouncementSchema)
    def get(self, announcement_id):
        """Open an announcement addressed to the member (marks it read); others: 404."""
        return announcements.open_for_member(current_principal(), announcement_id)


@member_bp.route("/unread")
class Unread(MethodView):
    @auth_required("message.read")
    @member_bp.response(200, UnreadSchema)
    def get(self):
        """Unread counts (the navigation badge)."""
        return {"announcements": announcements.unread_count(current_principal())}
