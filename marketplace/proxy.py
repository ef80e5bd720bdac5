"""Behind reverse proxies: which client address the app believes (``PROXY_TRUSTED_HOPS``).

With ``PROXY_TRUSTED_HOPS=N`` Werkzeug's ProxyFix takes the client address and scheme from the
N-th entry from the right of ``X-Forwarded-For`` / ``X-Forwarded-Proto``: the entries our own N
proxies appended. Anything a client wrote further left is ignored, so a forged header cannot
choose the address that rate limits, logs and the audit log see. With 0 (the default, no proxy)
the headers are not read at all and the address is the TCP peer. Set N to exactly the number of
proxies in front of gunicorn (one nginx: 1); too high lets clients pick their address.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def register_proxy(app: Flask) -> None:
    hops = int(app.config.get("PROXY_TRUSTED_HOPS") or 0)
    if hops < 0:
        raise ValueError("PROXY_TRUSTED_HOPS must be 0 or more")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
