"""gunicorn's worker hook freezes the start-up heap, so no full collection stops a worker for
the ~100 ms it takes to walk the loaded app (issue #13, the claim's p99)."""

from __future__ import annotations

import gc

from shihui import gunicorn_conf


def test_the_worker_hook_freezes_the_loaded_app(app):
    gc.unfreeze()
    try:
        kept = [[i] for i in range(200_000)]  # a loaded app's worth of tracked objects
        gunicorn_conf.post_worker_init(None)
        assert gc.get_freeze_count() >= 200_000
        assert all(gc.is_tracked(x) for x in kept[:10])  # frozen, not untracked
    finally:
        gc.unfreeze()
