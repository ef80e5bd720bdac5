"""Places drawn at the start are uniform: whatever the order members joined in before the start,
each join position lands on each place equally often. Deterministic: the scores come from a
seeded generator here (``secrets`` in production), the rooms from the real script on Redis."""

from __future__ import annotations

import random

import pytest

from flashsale import room
from marketplace.extensions import get_redis

from .roomkit import start_room_now

N, TRIALS, SEED = 8, 400, 20261130
# Chi-square critical value for (N-1)^2 = 49 degrees of freedom at p = 0.001 (tables: 85.35).
CRITICAL = 85.35


def chi_square(table) -> float:
    expected = TRIALS / N
    return sum((count - expected) ** 2 / expected for row in table for count in row)


def open_room(sale_id: int) -> None:
    """A bare room on a real pool (no SQL row needed): opens now, starts in an hour."""
    from flashsale.hotpath import get_engine

    client = get_redis()
    secs, _ = client.time()
    now_ms = secs * 1000
    get_engine().open_pool(str(sale_id), 1000, 1, now_ms / 1000, now_ms / 1000 + 7200)
    client.hset(room.room_keys(sale_id)[0], mapping={
        "opens": now_ms - 1000, "starts": now_ms + 3_600_000, "ends": now_ms + 7_200_000,
        "rate": "0.001", "factor": "1.2", "ttl": room.PASS_TTL_MS,
    })  # fmt: skip


def places_table(app_ctx, monkeypatch, draw) -> list[list[int]]:
    monkeypatch.setattr(room, "draw_score", draw)
    table = [[0] * N for _ in range(N)]
    for trial in range(TRIALS):
        sale = 50_000 + trial
        open_room(sale)
        for position in range(N):  # member 1 always joins first, member N last
            assert room.join(sale, position + 1).state == "waiting"
            room.status(sale, position + 1)  # polling before the start changes nothing
        start_room_now(sale)
        for position in range(N):
            room.join(sale, position + 1)  # nor does re-joining
            place = room.status(sale, position + 1).place
            table[position][place - 1] += 1
    return table


def test_pre_start_places_are_uniform(app_ctx, monkeypatch):
    rng = random.Random(SEED)
    table = places_table(app_ctx, monkeypatch, lambda: rng.getrandbits(53))
    assert all(sum(row) == TRIALS for row in table)
    assert all(sum(col) == TRIALS for col in zip(*table, strict=True))  # each place once a trial
    stat = chi_square(table)
    print(f"chi-square {stat:.1f} (df {(N - 1) ** 2}, critical {CRITICAL} at p=0.001)")
    assert stat < CRITICAL, table
    # Joining first gives no edge: the first joiner's mean place is the middle, within noise.
    mean_first = sum((p + 1) * c for p, c in enumerate(table[0])) / TRIALS
    assert abs(mean_first - (N + 1) / 2) < 0.4, mean_first


@pytest.mark.parametrize("name", ["arrival order", "early bird bias"])
def test_the_check_catches_an_unfair_draw(app_ctx, monkeypatch, name):
    """The same check fails for draws that favour early joiners (so it can fail)."""
    counter = iter(range(10**9))
    rng = random.Random(SEED)
    if name == "arrival order":
        draw = lambda: next(counter)  # noqa: E731 - FIFO: scores rise with join order
    else:  # a mild bias: a later join draws from a range shifted up by a bit
        draw = lambda: rng.getrandbits(50) + next(counter) % N * 2**46  # noqa: E731
    table = places_table(app_ctx, monkeypatch, draw)
    assert chi_square(table) > CRITICAL
