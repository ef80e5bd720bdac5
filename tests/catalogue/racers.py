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
