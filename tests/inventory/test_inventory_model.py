"""Random operation sequences against the engine and a plain in-memory model must agree."""

from __future__ import annotations

import time
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from inventory import StockBelowClaimed

MEMBERS = ["ann", "bo", "cy", "di", "ed"]
LIVE = {"held", "committed"}


class Model:
    def __init__(self, total, limit):
        self.total, self.limit, self.closed = total, limit, False
        self.claims: dict[str, list] = {}  # claim id -> [member, qty, state]
        self.requests: dict[str, tuple] = {}  # request id -> (claim id, member, qty)

    def claimed(self, state=None):
        wanted = {state} if state else LIVE
        return sum(q for _, q, s in self.claims.values() if s in wanted)

    def count(self, member):
        return sum(q for m, q, s in self.claims.values() if m == member and s in LIVE)

    def expected_status(self, member, qty):
        if self.closed:
            return "closed"
        if self.count(member) + qty > self.limit:
            return "limit_reached"
        if self.total - self.claimed() < qty:
            return "sold_out"
        return "reserved"


def machine_for(engine, buckets):
    class EngineMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.pool = f"m{uuid.uuid4().hex[:10]}"
            now = time.time()
            engine.open_pool(self.pool, 12, 3, now - 5, now + 3600, 3600, buckets)
            self.model = Model(12, 3)

        @rule(member=st.sampled_from(MEMBERS), qty=st.integers(1, 3), data=st.data())
        def reserve(self, member, qty, data):
            known = sorted(self.model.requests)
            if known and data.draw(st.booleans(), label="repeat"):
                rid = data.draw(st.sampled_from(known), label="request")
                claim_id, first_member, first_qty = self.model.requests[rid]
                result = engine.reserve(self.pool, first_member, first_qty, rid)
                assert result.replayed and result.claim_id == claim_id
                return
            rid = uuid.uuid4().hex
            result = engine.reserve(self.pool, member, qty, rid)
            assert result.status == self.model.expected_status(member, qty)
            if result.ok:
                assert not result.replayed and result.claim_id not in self.model.claims
                self.model.claims[result.claim_id] = [member, qty, "held"]
                self.model.requests[rid] = (result.claim_id, member, qty)
                assert result.member_count == self.model.count(member)

        def _settle(self, op, data, allowed_from, new_state):
            if not self.model.claims:
                return
            claim_id = data.draw(st.sampled_from(sorted(self.model.claims)), label="claim")
            result = getattr(engine, op)(self.pool, claim_id)
            record = self.model.claims[claim_id]
            changed = record[2] == allowed_from
            if changed:
                record[2] = new_state
            assert (result.state, result.changed) == (record[2], changed)

        @rule(data=st.data())
        def commit(self, data):
            self._settle("commit", data, "held", "committed")

        @rule(data=st.data())
        def release(self, data):
            self._settle("release", data, "held", "released")

        @rule(data=st.data())
        def cancel(self, data):
            self._settle("cancel", data, "committed", "cancelled")

        @rule()
        def expire_all(self):
            expired = engine.expire_holds(self.pool, now=time.time() + 7200)
            due = sorted(c for c, (_, _, s) in self.model.claims.items() if s == "held")
            assert sorted(expired) == due
            for claim_id in due:
                self.model.claims[claim_id][2] = "expired"

        @rule(new_total=st.integers(0, 20))
        def restock(self, new_total):
            if new_total < self.model.claimed():
                with pytest.raises(StockBelowClaimed):
                    engine.restock(self.pool, new_total)
            else:
                engine.restock(self.pool, new_total)
                self.model.total = new_total

        @rule()
        def close(self):
            engine.close_pool(self.pool)
            self.model.closed = True

        @invariant()
        def stats_agree(self):
            stats = engine.stats(self.pool)
            model = self.model
            members = {m for m, _, s in model.claims.values() if s in LIVE}
            assert (stats.total, stats.claimed, stats.held, stats.members) == (
                model.total, model.claimed(), model.claimed("held"), len(members),
            )  # fmt: skip
            assert stats.remaining == model.total - model.claimed() >= 0

    return EngineMachine


@pytest.mark.parametrize("buckets", [1, 3])
def test_engine_matches_model(engine, buckets):
    run_state_machine_as_test(
        machine_for(engine, buckets),
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
