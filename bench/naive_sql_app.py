"""What a team without Redis would build: one SQL transaction per claim.

``UPDATE sales SET remaining = remaining - 1 WHERE id = :id AND remaining > 0`` then an insert
under a unique (member, sale) constraint; rolled back when either fails.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/shihui_bench \
      gunicorn -c python:shihui.gunicorn_conf bench.naive_sql_app:app
"""

from __future__ import annotations

import os
import secrets

from flask import Flask, request
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

app = Flask(__name__)
engine = create_engine(
    os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/shihui_bench"),
    pool_size=int(os.environ.get("BENCH_POOL", 16)),
    max_overflow=0,
)

SCHEMA = [
    "DROP TABLE IF EXISTS naive_vouchers",
    "DROP TABLE IF EXISTS naive_sales",
    "CREATE TABLE naive_sales (id INT PRIMARY KEY, remaining INT NOT NULL)",
    """CREATE TABLE naive_vouchers (id BIGSERIAL PRIMARY KEY, sale_id INT NOT NULL,
         member_id BIGINT NOT NULL, code TEXT NOT NULL, UNIQUE (member_id, sale_id))""",
]


def reset(stock: int) -> None:
    with engine.begin() as conn:
        for statement in SCHEMA:
            conn.execute(text(statement))
        conn.execute(text("INSERT INTO naive_sales VALUES (1, :s)"), {"s": stock})


@app.post("/claim/<int:sale>")
def claim(sale: int):
    member = int(request.headers.get("X-Member", "0"))
    try:
        with engine.begin() as conn:
            updated = conn.execute(
                text(
                    "UPDATE naive_sales SET remaining = remaining - 1 "
                    "WHERE id = :id AND remaining > 0"
                ),
                {"id": sale},
            ).rowcount
            if not updated:
                return {"code": "sold_out"}, 409
            conn.execute(
                text("INSERT INTO naive_vouchers (sale_id, member_id, code) VALUES (:s, :m, :c)"),
                {"s": sale, "m": member, "c": secrets.token_hex(8)},
            )
    except IntegrityError:
        return {"code": "limit_reached"}, 409
    return {"ok": True}, 201
