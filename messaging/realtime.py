"""Real-time signals to open pages (issue #16 item 4): the web side.

A web process that commits something a member or an admin should see at once (a new message, a
reply, a notice) publishes a small event on Redis pub/sub; the ``shihui realtime`` process
(:mod:`messaging.realtime_server`) holds the browsers' Server-Sent Events connections and
forwards each event to the connections subscribed to its channel. Events carry ids and a type,
never text: the page fetches what changed through its own authorised routes, so the event channel
can neither leak content nor inject markup.

Channels: ``m:<member id>`` for a member, ``o:<org id>`` for the admins of that node; an event about
a conversation goes to every node on its organisation's path, so the branch's, the district's and
the city admins all hear it. An announcement is one event on ``a:<audience key>`` (``a:all``,
``a:region:<code>``, ``a:org:<id>``), which every member whose keys include it listens to: still
O(1) however large the audience. The browser proves which channels it may hear with a token signed
here (``SECRET_KEY``, salt ``shihui.realtime``) and checked by the realtime process, which needs no
database.

Pub/sub goes through the RQ Redis (always a standalone server, even when ``REDIS_URL`` is a
cluster). Publishing never fails a request: with Redis down the event is lost and the page catches
up by polling (docs/messages.md, "Real time").
"""

from __future__ import annotations

import json
import logging

import redis.exceptions
from flask import current_app

from marketplace.extensions import get_rq_redis

from .realtime_server import channel_prefix, serializer

log = logging.getLogger(__name__)


def _prefix() -> str:
    return channel_prefix(current_app.config.get("REDIS_NAMESPACE", "shihui"))


# One event to many channels in one call (a lottery tells 500,000 entrants; a pipeline of
# PUBLISH commands cost the client ~37 µs each to pack and parse, about 45 % of a notice).
# KEYS none (channels are not keys)   ARGV[1] the event   ARGV[2..] channels
# Returns the number of channels published to.
PUBLISH_MANY = """
for i = 2, #ARGV do
  redis.call('PUBLISH', ARGV[i], ARGV[1])
end
return #ARGV - 1
"""
MANY = 1000  # channels per call


def publish(channels: list[str], event: dict) -> int:
    """Send ``event`` (small, JSON, ids only) to ``channels``; returns how many were published.
    More than one channel: :data:`PUBLISH_MANY`, a thousand channels a call."""
    data = json.dumps(event, separators=(",", ":"))
    try:
        prefix = _prefix()
        client = get_rq_redis()
        if len(channels) == 1:
            client.publish(prefix + channels[0], data)
        else:
            script = _publish_many(client)
            for start in range(0, len(channels), MANY):
                script(args=[data, *(prefix + ch for ch in channels[start : start + MANY])],
                       client=client)  # fmt: skip
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("real-time event not published (%s): pages catch up by polling", exc)
        return 0
    return len(channels)


def _publish_many(client):
    """:data:`PUBLISH_MANY`, registered once per app; called with the current client (redis-py
    loads it again after a NOSCRIPT)."""
    ext = current_app.extensions
    if "shihui.publish_many" not in ext:
        ext["shihui.publish_many"] = client.register_script(PUBLISH_MANY)
    return ext["shihui.publish_many"]


def to_member(member_id: int, event: dict) -> int:
    return publish([f"m:{member_id}"], event)


def to_org_path(path: str, event: dict) -> int:
    """To the admins of every node on ``path`` ("/1/5/23/")."""
    return publish([f"o:{i}" for i in path.strip("/").split("/") if i], event)


def token_for(channels: list[str]) -> str:
    return serializer(current_app.config["SECRET_KEY"]).dumps(channels)


def to_audience(audience_key: str, event: dict) -> int:
    """To every member whose audience keys include ``audience_key`` (an announcement)."""
    return publish([f"a:{audience_key}"], event)


def channels_for(principal) -> list[str]:
    """What the caller may hear: a member their own channel and their announcement audiences,
    an admin their node's."""
    if principal.member_id:
        from .announcements import reader

        return [f"m:{principal.member_id}", *(f"a:{k}" for k in reader(principal).keys)]
    from marketplace import orgs

    scope = orgs.scope_of(principal)
    scope = scope or orgs.root()  # the city admin: every path starts at the root
    return [f"o:{scope.id}"]


def page_settings(principal) -> dict:
    """What a page's ``data-rt-*`` attributes carry (the stream URL is empty when none runs)."""
    base = current_app.config.get("REALTIME_URL") or ""
    channels = channels_for(principal)
    return {
        "url": f"{base.rstrip('/')}/events" if base and channels else "",
        "token": token_for(channels) if base and channels else "",
        "poll": int(current_app.config.get("REALTIME_POLL_SECONDS", 15)),
    }
