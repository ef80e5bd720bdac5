"""One event to many channels (a lottery tells 500,000 entrants): the ``PUBLISH_MANY`` script,
a thousand channels a call, reaches every channel exactly once, as single PUBLISHes would."""

from __future__ import annotations

import time

from marketplace.extensions import get_rq_redis
from messaging import realtime


def received(pubsub, want: int, seconds: float = 10.0) -> list[tuple[str, str]]:
    got = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.2)
        if msg and msg["type"] == "pmessage":
            got.append((msg["channel"].decode(), msg["data"].decode()))
    return got


def test_an_event_reaches_every_channel_once(app_ctx):
    client = get_rq_redis()
    prefix = realtime._prefix()
    pubsub = client.pubsub()
    pubsub.psubscribe(prefix + "m:*")
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
    channels = [f"m:{n}" for n in range(2_345)]  # three calls: 1,000 + 1,000 + 345
    assert realtime.publish(channels, {"type": "notice", "kind": "lottery.waiting"}) == 2_345
    got = received(pubsub, 2_345)
    assert sorted(ch for ch, _ in got) == sorted(prefix + ch for ch in channels)
    assert {data for _, data in got} == {'{"type":"notice","kind":"lottery.waiting"}'}
    # One channel is a plain PUBLISH; after a SCRIPT FLUSH the script loads itself again.
    client.script_flush()
    assert realtime.publish(["m:1", "m:2"], {"type": "x"}) == 2
    assert realtime.publish(["m:3"], {"type": "y"}) == 1
    assert sorted(received(pubsub, 3)) == [
        (prefix + "m:1", '{"type":"x"}'), (prefix + "m:2", '{"type":"x"}'),
        (prefix + "m:3", '{"type":"y"}'),
    ]  # fmt: skip
    assert received(pubsub, 1, seconds=0.5) == []  # nothing twice
    pubsub.close()
