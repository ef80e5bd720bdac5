"""Member processes for the race test: each claims for its members over real HTTP."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse


def race(base: str, campaign_id: int, members: list[tuple[int, str]], attempts: int, out):
    """Claim ``attempts`` times per member (fresh key each time); put (member, status, body)."""
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    results = []
    for attempt in range(attempts):
        for member_id, token in members:
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": f"race-{member_id}-{attempt}",
            }
            conn.request("POST", f"/api/v1/flashsales/{campaign_id}/claims", headers=headers)
            resp = conn.getresponse()
            results.append((member_id, resp.status, json.loads(resp.read())))
    conn.close()
    out.put(results)
