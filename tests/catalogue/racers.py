"""Processes that race for a group-buy's last place over HTTP (imported by the spawn start)."""

import json
import time
import urllib.error
import urllib.request


def join_at(base: str, deal_id: int, token: str, start_at: float, team_id=None):
    body = json.dumps({"team_id": team_id} if team_id else {}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/groupbuys/{deal_id}/join", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    time.sleep(max(0.0, start_at - time.time()))
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def decide_in_app(app_config: dict, deal_id: int, barrier, out) -> None:
    """Run the deadline job in this process's own app once every racer is ready; report the
    answer and the monotonic window of the call."""
    from catalogue import jobs
    from shihui import create_app

    app = create_app(app_config)
    with app.app_context():
        from marketplace.extensions import db

        db.session.execute(db.select(1))  # connect before the race, not during it
        barrier.wait(timeout=60)
        began = time.monotonic()
        try:
            state = jobs.decide_groupbuy(deal_id)
        except Exception as exc:  # report, so the parent sees which racer failed and why
            state = f"error: {exc!r}"
        out.put((state, began, time.monotonic()))
