"""Conversations API: the member's (``/api/v1/messages/conversations``) and the admins'
(``/api/v1/admin/conversations``, ``/api/v1/admin/saved-replies``)."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from marketplace.auth import auth_required, current_principal
from marketplace.errors import ValidationFailed
from marketplace.pagination import PageArgsSchema, page_schema
from marketplace.validation import TEXT_ERROR, bad_text, id_field

from . import conversations as convs

member_bp = Blueprint(
    "conversations", __name__, url_prefix="/api/v1/messages",
    description="A member's conversations with their branch union",
)  # fmt: skip
admin_bp = Blueprint(
    "conversations_admin", __name__, url_prefix="/api/v1/admin",
    description="Branch admins answer their members' conversations",
)  # fmt: skip

MESSAGE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object", "required": ["body"], "properties": {
            "body": {"type": "string", "minLength": 1, "maxLength": convs.MAX_BODY,
                     "description": "Surrounding spaces are trimmed: 1 to 2000 characters. "
                     "No NUL characters."}}}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["body"], "properties": {
            "body": {"type": "string", "minLength": 1, "maxLength": convs.MAX_BODY},
            "photos": {"type": "array", "items": {"type": "string", "format": "binary"},
                       "description": "Up to 3 JPEG, PNG or WebP photos of at most 1 MB each, "
                       "checked by their bytes: else 413 image_too_large or 415 "
                       "unsupported_image"}}}},
    },
}  # fmt: skip
RATE_NOTE = "At most MESSAGE_SEND_LIMIT (default 5 a minute) per member: else 429 rate_limited."


def read_message() -> tuple[str, list[bytes]]:
    """(body, photos) from a JSON body or a multipart form."""
    request.max_content_length = convs.MAX_PHOTOS * convs.PHOTO_MAX_BYTES + 64 * 1024
    if request.mimetype == "multipart/form-data":
        photos = [f.read(convs.PHOTO_MAX_BYTES + 1) for f in request.files.getlist("photos")]
        body = request.form.get("body", "")
        if bad_text(body):  # the input guard leaves API uploads' text to the view
            raise ValidationFailed(errors={"body": [TEXT_ERROR]})
        return body, photos
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        raise ValidationFailed(errors={"body": ["Missing data for required field."]})
    return data["body"], []


class MessageSchema(Schema):
    id = fields.Integer()
    author_kind = fields.String(metadata={"description": "member or staff"})
    body = fields.String(metadata={"description": "Plain text: escape it when showing it"})
    created_at = fields.DateTime()
    photo_ids = fields.List(fields.Integer())


class ConversationSchema(Schema):
    id = fields.Integer()
    subject = fields.String()
    status = fields.String()
    org_id = fields.Integer()
    member_id = fields.Integer()
    assignee_id = fields.Integer(allow_none=True)
    staff_unread = fields.Integer()
    member_unread = fields.Integer()
    waiting_since = fields.DateTime(allow_none=True)
    last_message_at = fields.DateTime()
    created_at = fields.DateTime()


class ConversationDetailSchema(ConversationSchema):
    messages = fields.List(fields.Nested(MessageSchema))


class InboxArgs(PageArgsSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "closed", "all")))
    mine = fields.Boolean(load_default=False)


class ReplySchema(Schema):
    body = fields.String(
        validate=validate.Length(min=1, max=convs.MAX_BODY),
        metadata={"description": "Unless saved_reply_id is given; trimmed: 1 to 2000 characters. "
                  "No NUL characters."},
    )  # fmt: skip
    saved_reply_id = id_field()


class AssignSchema(Schema):
    account_id = id_field(
        required=True,
        allow_none=True,
        metadata={"description": "null: nobody. Else a city admin, or a branch admin of the "
                  "conversation's node or above: Not an admin who can see this conversation."},
    )  # fmt: skip


class SavedReplySchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "Trimmed: 1 to 100 characters."})  # fmt: skip
    body = fields.String(
        required=True,
        validate=validate.Length(min=1, max=convs.MAX_BODY),
        metadata={"description": "Trimmed: 1 to 2000 characters. No NUL characters."},
    )
    org_id = fields.Integer(dump_only=True)


def detail(conv) -> dict:
    msgs = convs.messages(conv)
    photos = convs.photos_of([m.id for m in msgs])
    view = {name: getattr(conv, name) for name in ConversationSchema().fields}
    view["messages"] = [
        {"id": m.id, "author_kind": m.author_kind, "body": m.body, "created_at": m.created_at,
         "photo_ids": photos.get(m.id, [])} for m in msgs
    ]  # fmt: skip
    return view


def photo_response(photo) -> Response:
    return Response(photo.data, mimetype=photo.content_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})  # fmt: skip


# --------------------------------------------------------------------------- members


@member_bp.route("/conversations")
class MemberConversations(MethodView):
    @auth_required("conversation.own")
    @member_bp.arguments(PageArgsSchema, location="query")
    @member_bp.response(200, page_schema(ConversationSchema, "ConversationPageSchema"))
    def get(self, args):
        """The member's conversations, newest activity first."""
        return convs.member_list(current_principal(), **args).as_response()

    @auth_required("conversation.own")
    @member_bp.doc(requestBody=MESSAGE_BODY, description=RATE_NOTE)
    @member_bp.response(201, ConversationDetailSchema)
    def post(self):
        """Open a conversation with one's branch union (409 ``no_branch`` without one)."""
        body, photos = read_message()
        return detail(convs.open_conversation(current_principal(), body, photos))


@member_bp.route("/conversations/<int:conversation_id>")
class MemberConversation(MethodView):
    @auth_required("conversation.own")
    @member_bp.response(200, ConversationDetailSchema)
    def get(self, conversation_id):
        """One of the member's conversations with every message (marks replies seen)."""
        conv = convs.member_conversation(current_principal(), conversation_id)
        convs.seen_by_member(conv)
        return detail(conv)


@member_bp.route("/conversations/<int:conversation_id>/messages")
class MemberMessages(MethodView):
    @auth_required("conversation.own")
    @member_bp.doc(requestBody=MESSAGE_BODY, description=RATE_NOTE)
    @member_bp.response(201, MessageSchema)
    def post(self, conversation_id):
        """Add a message (a closed conversation opens again)."""
        body, photos = read_message()
        return convs.member_send(current_principal(), conversation_id, body, photos)


@member_bp.get("/photos/<int:photo_id>")
@member_bp.doc(responses={200: {"description": "The photo", "content": {"image/*": {}}}})
@auth_required("conversation.own")
def member_photo(photo_id):
    """A photo of one of the member's conversations."""
    return photo_response(convs.photo_for_member(current_principal(), photo_id))


# --------------------------------------------------------------------------- admins


@admin_bp.route("/conversations")
class StaffInbox(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.arguments(InboxArgs, location="query")
    @admin_bp.response(200, page_schema(ConversationSchema, "StaffConversationPageSchema"))
    def get(self, args):
        """Conversations of the caller's subtree: longest waiting first."""
        return convs.staff_inbox(current_principal(), **args).as_response()


@admin_bp.route("/conversations/<int:conversation_id>")
class StaffConversation(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.response(200, ConversationDetailSchema)
    def get(self, conversation_id):
        """One conversation of the subtree with every message (marks the member's seen)."""
        conv = convs.staff_conversation(current_principal(), conversation_id)
        convs.seen_by_staff(conv)
        return detail(conv)


@admin_bp.route("/conversations/<int:conversation_id>/replies")
class Replies(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.arguments(ReplySchema)
    @admin_bp.response(201, MessageSchema)
    def post(self, data, conversation_id):
        """Reply with ``body`` or a saved reply (``saved_reply_id``)."""
        return convs.reply(current_principal(), conversation_id, data.get("body"),
                           data.get("saved_reply_id"))  # fmt: skip


@admin_bp.route("/conversations/<int:conversation_id>/assign")
class Assign(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.arguments(AssignSchema)
    @admin_bp.response(200, ConversationSchema)
    def post(self, data, conversation_id):
        """Assign to a colleague who can see it (null: unassign); else 422 ``bad_assignee``."""
        return convs.assign(current_principal(), conversation_id, data["account_id"])


@admin_bp.route("/conversations/<int:conversation_id>/close")
class Close(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.response(200, ConversationSchema)
    def post(self, conversation_id):
        """Close it (409 ``already_closed``); a new member message opens it again."""
        return convs.close(current_principal(), conversation_id)


@admin_bp.get("/conversation-photos/<int:photo_id>")
@admin_bp.doc(responses={200: {"description": "The photo", "content": {"image/*": {}}}})
@auth_required("conversation.handle")
def staff_photo(photo_id):
    """A photo of a conversation of the caller's subtree."""
    return photo_response(convs.photo_for_staff(current_principal(), photo_id))


@admin_bp.route("/saved-replies")
class SavedReplies(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.response(200, SavedReplySchema(many=True))
    def get(self):
        """Saved replies of one's node, the nodes above it and below it."""
        return convs.saved_replies(current_principal())

    @auth_required("conversation.handle")
    @admin_bp.arguments(SavedReplySchema)
    @admin_bp.response(201, SavedReplySchema)
    def post(self, data):
        """Save a reply for one's node."""
        return convs.add_saved_reply(current_principal(), data["title"], data["body"])


@admin_bp.route("/saved-replies/<int:reply_id>")
class SavedReplyDetail(MethodView):
    @auth_required("conversation.handle")
    @admin_bp.response(204)
    def delete(self, reply_id):
        """Delete a saved reply of one's node or below."""
        convs.delete_saved_reply(current_principal(), reply_id)
