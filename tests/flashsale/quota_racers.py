"""Device processes for the quota race tests: one member's phones claim in several sales at the
same moment over real HTTP."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse


def device(base, sales, members, device_no, rounds, barrier, out):
    """Claim once per (round, sale, member), this device's own keys; put [(member, sale,
    status, code-or-claim)]."""
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    results = []
    barrier.wait()
    for r in range(rounds):
        for sale in sales:
            for member_id, token in members:
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": f"quota-{member_id}-{sale}-{r}-{device_no}",
                }
                conn.request("POST", f"/api/v1/flashsales/{sale}/claims", headers=headers)
                resp = conn.getresponse()
                body = json.loads(resp.read())
                what = body["claim_id"] if resp.status == 201 else body.get("code")
                results.append((member_id, sale, resp.status, what))
    conn.close()
    out.put(results)
