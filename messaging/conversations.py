"""Conversations (即时沟通): a member asks their branch union; its admins answer.

Who may read a conversation: the member who opened it, and the admins whose subtree contains
the organisation it was opened with (the city admin: all). Anyone else gets 404, as if it did
not exist. A frozen or deleted member's conversations stay with the branch, for the record.
"""

from __future__ import annotations

from sqlalchemy import func, select, true

from marketplace import orgs
from marketplace.auth import ratelimit
from marketplace.auth.models import Account
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.images import TooLarge, check_image
from marketplace.members.models import Member
from marketplace.models import record_audit, utcnow
from marketplace.orgs import Org
from marketplace.pagination import Page
from marketplace.permissions import Actor

from . import badge, realtime
from .models import Conversation, ConversationMessage, ConversationPhoto, SavedReply

MAX_BODY = 2000
MAX_PHOTOS = 3
PHOTO_MAX_BYTES = 1024 * 1024
SEND_LIMIT = "MESSAGE_SEND_LIMIT"


def _body(text) -> str:
    text = text.strip() if isinstance(text, str) else ""
    if not text or len(text) > MAX_BODY:
        raise ValidationFailed(errors={"body": [f"1 to {MAX_BODY} characters."]})
    if "\x00" in text:
        raise ValidationFailed(errors={"body": ["No NUL characters."]})
    return text


def check_photos(photos: list[bytes]) -> list[tuple[bytes, str]]:
    """Each photo with its type, checked by its bytes: 413 past the size or count, 415 for
    anything not a JPEG, PNG or WebP."""
    if len(photos) > MAX_PHOTOS:
        raise TooLarge(f"At most {MAX_PHOTOS} photos per message.", limit=MAX_PHOTOS)
    return [(data, check_image(data, PHOTO_MAX_BYTES)) for data in photos]


def _add_message(
    conv: Conversation, kind: str, author_id, body: str, photos
) -> ConversationMessage:
    message = ConversationMessage(conversation_id=conv.id, author_kind=kind, author_id=author_id,
                                  body=body)  # fmt: skip
    db.session.add(message)
    db.session.flush()
    for data, mime in photos:
        db.session.add(ConversationPhoto(message_id=message.id, content_type=mime,
                                         size=len(data), data=data))  # fmt: skip
    now = utcnow()
    conv.last_message_at = now
    # Counters move in SQL (UPDATE ... SET n = n + 1): two messages sent at the same moment
    # by two processes both count (tests/messaging/test_conversations.py races them).
    if kind == "member":
        conv.staff_unread = Conversation.staff_unread + 1
        conv.waiting_since = func.coalesce(Conversation.waiting_since, now)
        if conv.status == "closed":  # a new question reopens it
            conv.status, conv.closed_at = "open", None
    else:
        conv.member_unread = Conversation.member_unread + 1
        conv.waiting_since = None
    return message


# --------------------------------------------------------------------------- members


def _rate(principal) -> None:
    ratelimit.hit_or_raise(SEND_LIMIT, f"member:{principal.member_id}")


def open_conversation(principal, body, photos: list[bytes] = ()) -> Conversation:
    """A member opens a conversation with their branch (409 ``no_branch`` without one)."""
    body = _body(body)
    checked = check_photos(list(photos))
    member = db.session.get(Member, principal.member_id)
    if member is None or member.org_id is None:
        raise Conflict("You belong to no union branch yet.", code="no_branch")
    _rate(principal)
    conv = Conversation(member_id=member.id, org_id=member.org_id,
                        subject=body.splitlines()[0][:200], last_message_at=utcnow())  # fmt: skip
    db.session.add(conv)
    db.session.flush()
    _add_message(conv, "member", principal.account_id, body, checked)
    db.session.commit()
    _tell(conv, "message")
    return conv


def member_conversation(principal, conversation_id: int) -> Conversation:
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or conv.member_id != principal.member_id:
        raise NotFound("No such conversation.")
    return conv


def member_send(principal, conversation_id: int, body, photos: list[bytes] = ()):
    conv = member_conversation(principal, conversation_id)
    body = _body(body)
    checked = check_photos(list(photos))
    _rate(principal)
    message = _add_message(conv, "member", principal.account_id, body, checked)
    db.session.commit()
    _tell(conv, "message")
    return message


def member_list(principal, page: int = 1, per_page: int = 20) -> Page:
    stmt = select(Conversation).where(Conversation.member_id == principal.member_id)
    total = db.session.scalar(select(db.func.count()).select_from(stmt.subquery()))
    items = db.session.scalars(
        stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total or 0)


def member_unread(principal) -> int:
    return (
        db.session.scalar(
            select(db.func.coalesce(db.func.sum(Conversation.member_unread), 0)).where(
                Conversation.member_id == principal.member_id
            )
        )
        or 0
    )


def messages(conv: Conversation) -> list[ConversationMessage]:
    return list(
        db.session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conv.id)
            .order_by(ConversationMessage.id)
        )
    )


def photos_of(message_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    rows = db.session.execute(
        select(ConversationPhoto.message_id, ConversationPhoto.id)
        .where(ConversationPhoto.message_id.in_(message_ids))
        .order_by(ConversationPhoto.id)
    )
    for message_id, photo_id in rows:
        out.setdefault(message_id, []).append(photo_id)
    return out


def seen_by_member(conv: Conversation) -> None:
    if conv.member_unread:
        conv.member_unread = 0
        db.session.commit()
        badge.forget(conv.member_id)


def photo_for_member(principal, photo_id: int) -> ConversationPhoto:
    photo, conv = _photo(photo_id)
    if conv.member_id != principal.member_id:
        raise NotFound("No such photo.")
    return photo


def _photo(photo_id: int):
    row = db.session.execute(
        select(ConversationPhoto, Conversation)
        .join(ConversationMessage, ConversationMessage.id == ConversationPhoto.message_id)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(ConversationPhoto.id == photo_id)
    ).first()
    if row is None:
        raise NotFound("No such photo.")
    return row


# --------------------------------------------------------------------------- admins


def _in_scope(scope: Org | None):
    if scope is None:
        return true()
    return Conversation.org_id.in_(orgs.subtree_ids(scope))


def staff_conversation(principal, conversation_id: int) -> Conversation:
    """A conversation of the admin's subtree (else 404)."""
    scope = orgs.scope_of(principal)
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or not orgs.is_within(scope, db.session.get(Org, conv.org_id)):
        raise NotFound("No such conversation.")
    return conv


def staff_inbox(principal, status: str = "open", mine: bool = False, page: int = 1,
                per_page: int = 20) -> Page:  # fmt: skip
    """The subtree's conversations: those waiting longest first, then the newest."""
    stmt = select(Conversation).where(_in_scope(orgs.scope_of(principal)))
    if status in ("open", "closed"):
        stmt = stmt.where(Conversation.status == status)
    if mine:
        stmt = stmt.where(Conversation.assignee_id == principal.account_id)
    total = db.session.scalar(select(db.func.count()).select_from(stmt.subquery()))
    waiting_first = db.case((Conversation.waiting_since.is_(None), 1), else_=0)
    items = db.session.scalars(
        stmt.order_by(
            waiting_first, Conversation.waiting_since, Conversation.last_message_at.desc()
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total or 0)


def staff_waiting(principal) -> int:
    """Open conversations of the subtree with messages no admin has seen (the admin badge)."""
    return (
        db.session.scalar(
            select(db.func.count()).where(
                _in_scope(orgs.scope_of(principal)),
                Conversation.status == "open",
                Conversation.staff_unread > 0,
            )
        )
        or 0
    )


def seen_by_staff(conv: Conversation) -> None:
    if conv.staff_unread:
        conv.staff_unread = 0
        db.session.commit()


def reply(principal, conversation_id: int, body=None, saved_reply_id: int | None = None):
    conv = staff_conversation(principal, conversation_id)
    if saved_reply_id:
        body = saved_reply(principal, saved_reply_id).body
    message = _add_message(conv, "staff", principal.account_id, _body(body), [])
    conv.staff_unread = 0
    db.session.commit()
    badge.forget(conv.member_id)  # the member's badge shows the reply on their next page
    _tell(conv, "reply")
    return message


def assign(principal, conversation_id: int, account_id: int | None) -> Conversation:
    """Hand the conversation to a colleague: an admin who may see it (else 422)."""
    conv = staff_conversation(principal, conversation_id)
    if account_id is not None:
        colleague = db.session.get(Account, account_id)
        ok = colleague is not None and colleague.is_active and (
            colleague.role == "admin"
            or (
                colleague.role == "branch_admin"
                and orgs.is_within(db.session.get(Org, colleague.org_id),
                                   db.session.get(Org, conv.org_id))
            )
        )  # fmt: skip
        if not ok:
            raise ValidationFailed(
                errors={"account_id": ["Not an admin who can see this conversation."]},
                code="bad_assignee",
            )
    conv.assignee_id = account_id
    record_audit("conversation.assign", "conversation", conv.id, actor=Actor(principal),
                 data={"to": account_id})  # fmt: skip
    db.session.commit()
    _tell(conv, "assigned", member=False)
    return conv


def colleagues(conv: Conversation) -> list[Account]:
    """Admins who can see ``conv``: the city admins and the branch admins of its node or above."""
    ancestors = orgs.ancestor_ids(db.session.get(Org, conv.org_id))
    return list(
        db.session.scalars(
            select(Account)
            .where(
                Account.is_active.is_(True),
                (Account.role == "admin")
                | ((Account.role == "branch_admin") & Account.org_id.in_(ancestors)),
            )
            .order_by(Account.username)
        )
    )


def close(principal, conversation_id: int) -> Conversation:
    conv = staff_conversation(principal, conversation_id)
    if conv.status == "closed":
        raise Conflict("Already closed.", code="already_closed")
    conv.status, conv.closed_at, conv.waiting_since = "closed", utcnow(), None
    record_audit("conversation.close", "conversation", conv.id, actor=Actor(principal))
    db.session.commit()
    _tell(conv, "closed")
    return conv


def _tell(conv: Conversation, what: str, member: bool = True) -> None:
    """Open pages hear of it at once (messaging/realtime.py): the member's, and the admins' of
    every node on the conversation's path."""
    event = {"type": what, "conversation_id": conv.id}
    if member:
        realtime.to_member(conv.member_id, event)
    realtime.to_org_path(db.session.get(Org, conv.org_id).path, event)


def photo_for_staff(principal, photo_id: int) -> ConversationPhoto:
    photo, conv = _photo(photo_id)
    staff_conversation(principal, conv.id)
    return photo


# --------------------------------------------------------------------------- saved replies


def _saved_filter(scope: Org | None):
    """Saved replies of the admin's node, its ancestors and its subtree."""
    if scope is None:
        return true()
    return SavedReply.org_id.in_(orgs.ancestor_ids(scope)) | SavedReply.org_id.in_(
        orgs.subtree_ids(scope)
    )


def saved_replies(principal) -> list[SavedReply]:
    return list(
        db.session.scalars(
            select(SavedReply)
            .where(_saved_filter(orgs.scope_of(principal)))
            .order_by(SavedReply.title, SavedReply.id)
        )
    )


def saved_reply(principal, reply_id: int) -> SavedReply:
    found = db.session.scalar(
        select(SavedReply).where(SavedReply.id == reply_id, _saved_filter(orgs.scope_of(principal)))
    )
    if found is None:
        raise NotFound("No such saved reply.")
    return found


def add_saved_reply(principal, title, body) -> SavedReply:
    scope = orgs.scope_of(principal)
    title = title.strip() if isinstance(title, str) else ""
    if not title or len(title) > 100:
        raise ValidationFailed(errors={"title": ["1 to 100 characters."]})
    saved = SavedReply(org_id=scope.id if scope else orgs.root().id, title=title,
                       body=_body(body), created_by=principal.account_id)  # fmt: skip
    db.session.add(saved)
    db.session.commit()
    return saved


def delete_saved_reply(principal, reply_id: int) -> None:
    """Only replies of the admin's own node or below (not an ancestor's): else 404."""
    scope = orgs.scope_of(principal)
    found = db.session.get(SavedReply, reply_id)
    if found is None or not orgs.is_within(scope, db.session.get(Org, found.org_id)):
        raise NotFound("No such saved reply.")
    db.session.delete(found)
    db.session.commit()
