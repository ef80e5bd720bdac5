"""The one place members hear of their applications and bookings.

No messaging system exists yet (the inbox is being built in ``messaging/``). Every status change
calls :func:`notify`; when the inbox lands, this function is the only thing to change: deliver
``kind`` with ``payload`` to ``member_id``'s inbox. Until then it records nothing and sends
nothing. The payload never holds documents or their names, only ids, statuses and reasons.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace import notices as shared

# Kinds sent today (docs/unionservices.md): application.submitted, application.checked,
# application.needs_documents, application.resubmitted, application.approved,
# application.rejected, application.paid.
_listeners: list[Callable[[int, str, dict], None]] = []


def notify(member_id: int, kind: str, payload: dict) -> None:
    """Tell the member of a status change: into their inbox through the messages feature
    (:mod:`marketplace.notices`; after the caller's transaction commits), and to listeners."""
    shared.notify(member_id, kind, payload)
    for listener in list(_listeners):
        listener(member_id, kind, payload)


def listen(listener: Callable[[int, str, dict], None]) -> Callable[[], None]:
    """Register a listener (tests, and later the inbox); returns a function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)
