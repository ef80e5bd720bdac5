"""Client processes for the waiting-room race tests: poll the status over HTTP as fast as they
can and, in the second phase, claim with the passes they got (each pass twice, two keys)."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse


def _call(base, method, path, headers):
    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request(method, path, headers=headers)  # a new connection: spread over the workers
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def poll_and_claim(base, sale, members, seconds, claim_after, barrier, out):
    """Put ``{"passes": {member: [place, ...]}, "claims": [(member, place, status, claim_id)]}``."""
    passes, claims, tried = {}, [], set()
    barrier.wait()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for member_id, token in members:
            auth = {"Authorization": f"Bearer {token}"}
            status, body = _call(base, "GET", f"/api/v1/flashsales/{sale}/queue/me", auth)
            assert status == 200, body
            if body["state"] != "admitted":
                continue
            place = int(body["pass"].split(".")[2])
            passes.setdefault(member_id, set()).add(place)
            if time.monotonic() - start < claim_after or member_id in tried:
                continue
            tried.add(member_id)
            for n in range(2):  # one pass, two Idempotency-Keys: must be one claim
                key = f"room-race-{member_id:06d}-{n}"
                headers = {**auth, "Queue-Pass": body["pass"], "Idempotency-Key": key}
                status, answer = _call(base, "POST", f"/api/v1/flashsales/{sale}/claims", headers)
                claims.append((member_id, place, status, answer.get("claim_id") or answer["code"]))
    out.put({"passes": {m: sorted(p) for m, p in passes.items()}, "claims": claims})


def claim_with(base, sale, token, queue_pass, who, barrier, out):
    """One claim with a shared pass, after the barrier; put (status, claim id or code)."""
    headers = {"Authorization": f"Bearer {token}", "Queue-Pass": queue_pass,
               "Idempotency-Key": f"shared-pass-{who:04d}"}  # fmt: skip
    barrier.wait()
    status, body = _call(base, "POST", f"/api/v1/flashsales/{sale}/claims", headers)
    out.put((status, body.get("claim_id") or body["code"]))
