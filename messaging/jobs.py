"""RQ jobs of the messages feature: reminders at their time, outbound copies, expiry notices.

Each takes ids or plain values, runs in a fresh app context (``shihui worker``) and is idempotent:
reminders move ``pending -> sent`` with a conditional UPDATE and notices carry a key.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from flask import current_app

from marketplace import notices as signals
from marketplace.extensions import db
from marketplace.models import utcnow

log = logging.getLogger(__name__)

EXPIRY_NOTICE = timedelta(days=3)


def send_reminders(kind: str, subject_id: int, at: int | None = None) -> dict:
    """The reminders of one subject that are due (``at``: the time it was scheduled for)."""
    from .reminders import send_due

    return send_due(kind, subject_id)


def announcement_due(announcement_id: int) -> bool:
    """An announcement published for later is visible now: open pages hear of it (idempotent:
    a second run sends one more event, which only makes pages count again)."""
    from .announcements import announce
    from .models import Announcement

    found = db.session.get(Announcement, announcement_id)
    if found is None or found.withdrawn_at is not None or found.publish_at > utcnow():
        return False
    announce(found)
    return True


def send_outbound(member_ids: list[int], kind: str, payload: dict) -> dict:
    """An outbound copy of a notice to each member (preferences were checked on delivery)."""
    from flask_babel import force_locale

    from marketplace.members.models import Member

    from .models import Notice
    from .notices import text_of
    from .outbound import NotConfigured, NotDelivered, Outbound, channel

    chan = channel()
    sent = failed = 0
    with force_locale("zh_CN"):
        for member_id in member_ids:
            member = db.session.get(Member, member_id)
            if member is None:
                continue
            text = text_of(Notice(kind=kind, payload=json.dumps(payload, default=str)))
            try:
                chan.send(Outbound(member_id, member.phone, "石惠 Shihui", text, kind))
                sent += 1
            except NotConfigured as exc:
                log.warning("outbound %s not sent (%s): %s", kind, chan.name, exc)
                failed += 1
            except NotDelivered as exc:
                log.warning("outbound %s to member %s failed: %s", kind, member_id, exc)
                failed += 1
    return {"sent": sent, "failed": failed, "channel": chan.name}


def expiring_vouchers() -> int:
    """Periodic: tell members of vouchers that expire within ``EXPIRY_NOTICE`` (once each).

    The vouchers belong to other features, which register a source with
    :func:`marketplace.notices.add_expiring_source`; the notice key makes a repeated run quiet."""
    now = utcnow()
    told = 0
    for source in current_app.extensions.get("shihui.expiring", []):
        for member_id, payload, key in source(now, now + EXPIRY_NOTICE):
            signals.notify(member_id, "voucher.expiring", payload, key=key)
            told += 1
    return told
