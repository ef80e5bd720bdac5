"""Many processes racing the engine: no oversell, exact limits, one outbox record per claim."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from inventory import RESERVED

from .helpers import by_type, open_now, outbox
from .workers import merge_rows, reserve_many, run_all, settle_many

PROCESSES, MEMBERS = 8, 300  # each process tries every member once: 8 x 300 attempts


def assert_interleaved(race) -> None:
    """The racers really raced: all were calling at once, and their calls alternated."""
    assert race.overlap(), "a racer finished before another had started"
    sequential = len(race.calls) - 1
    assert race.switches() > 5 * sequential, (race.switches(), sequential)


@pytest.mark.parametrize("buckets", [1, 8])
@pytest.mark.parametrize(("total", "limit"), [(100, 1), (1000, 3)])
def test_processes_racing_reserve_exactly_the_stock(backend, buckets, total, limit):
    engine = backend.engine()
    open_now(engine, "race", total, limit, buckets=buckets)
    members = [f"m{i}" for i in range(MEMBERS)]
    jobs = []
    for p in range(PROCESSES):
        order = members[:]
        random.Random(p).shuffle(order)
        jobs.append((backend.spec, "race", [(m, 1, f"p{p}-{i}") for i, m in enumerate(order)]))

    race = run_all(reserve_many, jobs)
    assert_interleaved(race)
    results = [r for batch in race for r in batch]

    expected = min(total, MEMBERS * min(PROCESSES, limit))
    reserved = [r for r in results if r[0] == RESERVED]
    assert len(reserved) == expected
    assert {r[0] for r in results} <= {RESERVED, "sold_out", "limit_reached"}
    per_member = Counter(r[2] for r in reserved)
    assert max(per_member.values()) <= limit
    winners = {p for p, batch in enumerate(race) if any(r[0] == RESERVED for r in batch)}
    assert len(winners) > 1, "one process took every unit: the others never raced it"
    claim_ids = [r[1] for r in reserved]
    assert len(set(claim_ids)) == len(claim_ids)

    stats = engine.stats("race")
    assert (stats.total, stats.claimed, stats.remaining) == (total, expected, total - expected)
    assert stats.members == len(per_member)
    claims = by_type(outbox(engine, "race"), "claim")
    assert sorted(e["claim_id"] for e in claims) == sorted(claim_ids)
    assert all(e["voucher"] == f"V-{e['request_id']}" for e in claims)
    assert Counter(e["member_id"] for e in claims) == per_member


@pytest.mark.parametrize("buckets", [1, 4])
def test_repeated_request_ids_racing_give_one_claim_each(backend, buckets):
    engine = backend.engine()
    open_now(engine, "replay", 150, 1, buckets=buckets)
    requests = [(f"m{i}", 1, f"req-{i}") for i in range(200)]
    jobs = []
    for p in range(4):
        order = requests[:]
        random.Random(p).shuffle(order)
        jobs.append((backend.spec, "replay", order))

    race = run_all(reserve_many, jobs)
    assert_interleaved(race)
    results = [r for batch in race for r in batch]

    answers = defaultdict(list)
    for status, claim_id, _, replayed, request_id in results:
        if status == RESERVED:
            answers[request_id].append((claim_id, replayed))
    assert len(answers) == 150
    for seen in answers.values():
        assert len({claim_id for claim_id, _ in seen}) == 1
        assert [replayed for _, replayed in seen].count(False) == 1
    claims = by_type(outbox(engine, "replay"), "claim")
    assert sorted(e["claim_id"] for e in claims) == sorted(s[0][0] for s in answers.values())
    assert engine.stats("replay").remaining == 0


@pytest.mark.parametrize("buckets", [1, 4])
def test_hold_expiry_racing_commit_and_release_settles_each_hold_once(backend, buckets):
    engine = backend.engine()
    open_now(engine, "holds", 200, 1, hold_seconds=600, buckets=buckets)
    claims = [engine.reserve("holds", f"m{i}", 1, f"r{i}").claim_id for i in range(200)]
    assert None not in claims

    def shuffled(op, seed):
        order = claims[:]
        random.Random(seed).shuffle(order)
        return [(op, c) for c in order]

    jobs = [
        (backend.spec, "holds", shuffled("commit", 1)),
        (backend.spec, "holds", shuffled("release", 2)),
        (backend.spec, "holds", [("expire", None)] * 30),
        (backend.spec, "holds", [("expire", None)] * 30),
    ]
    race = run_all(settle_many, jobs)
    assert_interleaved(race)
    results = [r for batch in race for r in batch]

    transitions = Counter(c for _, c, _, changed in results if changed)
    assert transitions == Counter({c: 1 for c in claims})
    final = {c: state for _, c, state, changed in results if changed}
    counts = Counter(final.values())
    assert sum(counts.values()) == 200 and set(counts) <= {"committed", "released", "expired"}
    stats = engine.stats("holds")
    assert stats.held == 0
    assert stats.claimed == counts["committed"]
    assert stats.remaining == counts["released"] + counts["expired"]
    entries = outbox(engine, "holds")
    assert len(by_type(entries, "release")) == counts["released"]
    assert len(by_type(entries, "expire")) == counts["expired"]


@pytest.mark.parametrize("buckets", [1, 4])
def test_cancel_racing_returns_stock_once(backend, buckets):
    engine = backend.engine()
    open_now(engine, "cancel", 100, 2, buckets=buckets)
    claims = [engine.reserve("cancel", f"m{i}", 1, f"r{i}").claim_id for i in range(100)]
    assert engine.stats("cancel").remaining == 0
    jobs = []
    for p in range(4):
        order = claims[:]
        random.Random(p).shuffle(order)
        jobs.append((backend.spec, "cancel", [("cancel", c) for c in order]))

    race = run_all(settle_many, jobs)
    assert_interleaved(race)
    results = [r for batch in race for r in batch]

    assert Counter(c for _, c, _, changed in results if changed) == Counter(claims)
    assert all(state == "cancelled" for _, _, state, _ in results)
    stats = engine.stats("cancel")
    assert (stats.remaining, stats.claimed, stats.members) == (100, 0, 0)
    assert len(by_type(outbox(engine, "cancel"), "cancel")) == 100


@pytest.mark.parametrize("buckets", [1, 4])
def test_merge_racing_reserves_keeps_every_claim_and_the_counts_exact(backend, buckets):
    """Redis forgot 100 claims; 4 processes take new ones while a 5th merges the 100 back."""
    from .test_inventory_recovery import lose_everything

    engine = backend.engine()
    open_now(engine, "race", 300, 1, buckets=buckets)
    old = [engine.reserve("race", f"o{i}", 1, f"r{i}") for i in range(100)]
    rows = [(r.claim_id, r.member_id, 1, r.request_id, "committed") for r in old]
    lose_everything(backend)
    open_now(engine, "race", 300, 1, buckets=buckets)
    members = [f"n{i}" for i in range(150)]
    jobs = [(backend.spec, "race", [(m, 1, f"p{p}-{m}") for m in members]) for p in range(4)]
    *batches, report = run_all(
        _race_or_merge, [("reserve", job) for job in jobs] + [("merge", (backend.spec, rows))]
    )
    new = [r for batch in batches for r in batch if r[0] == RESERVED]
    assert report["added"] == 100 and not report["over_limit"]
    assert max(Counter(r[2] for r in new).values()) == 1
    assert not {r[1] for r in new} & {r.claim_id for r in old}
    stats = engine.stats("race")
    assert stats.claimed == 100 + len(new) == 100 + len(members)
    assert stats.total == 300 + report["deficit"] and report["deficit"] == 0
    assert stats.remaining == stats.total - stats.claimed
    assert engine.reserve("race", "o7", 1, "r7").claim_id == old[7].claim_id


def _race_or_merge(start, timed, kind, args):
    if kind == "merge":
        spec, rows = args
        return merge_rows(start, spec, "race", rows, 7)
    return reserve_many(start, timed, *args)
