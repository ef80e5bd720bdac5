"""marketplace/gcfreeze.py: a long-running process's start-up objects leave the collector's
sight, so a full collection mid-rush walks only what was made since."""

import gc

from marketplace.gcfreeze import freeze_startup_objects


def test_freezing_moves_every_live_object_out_of_the_collected_generations():
    before = gc.get_freeze_count()  # the test process may have frozen objects before
    made = [[i] for i in range(5_000)]  # lists: always tracked by the collector
    try:
        frozen = freeze_startup_objects()
        assert frozen == gc.get_freeze_count() >= before + len(made)
        assert sum(len(gc.get_objects(generation=g)) for g in range(3)) < len(made)
        assert all(gc.is_tracked(x) for x in made)  # frozen, still tracked, never scanned
    finally:
        gc.unfreeze()  # the rest of the test run collects as before
