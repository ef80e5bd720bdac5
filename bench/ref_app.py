"""The framework ceiling: a bare Flask view calling one small Lua script (no auth, no checks
beyond stock, no problem+json). Served by the same gunicorn configuration as the platform.

    REDIS_URL=redis://127.0.0.1:6379/0 \
      gunicorn -c python:shihui.gunicorn_conf bench.ref_app:app
"""

from __future__ import annotations

import os

import redis
from flask import Flask, request

RESERVE = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then return -1 end
redis.call('DECR', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'member', ARGV[1])
return left - 1
"""

app = Flask(__name__)
client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
reserve = client.register_script(RESERVE)


@app.post("/claim/<int:sale>")
def claim(sale: int):
    member = request.headers.get("X-Member", "0")
    left = reserve(keys=[f"ref:{{{sale}}}:stock", f"ref:{{{sale}}}:outbox"], args=[member])
    if left < 0:
        return {"code": "sold_out"}, 409
    return {"remaining": left}, 201


@app.get("/bare")
def bare():
    return {"ok": True}
