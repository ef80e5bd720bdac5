"""Long-running processes move what they built at start-up out of the garbage collector's sight.

A process that has loaded the app holds ~200,000 tracked objects (Flask, SQLAlchemy,
marshmallow, Babel, the models). Every full collection walks all of them with the process's
threads stopped: ~100 ms in a web worker (issue #13: that was the claim's p99 at 64
connections) and up to 320 ms in the outbox drainer, measured during a claim rush on two
shared cores, where those milliseconds of CPU come out of the web workers' share. Frozen, they
are never scanned again; a collection sees only what the process made since.

Called once the process is ready to work: gunicorn's ``post_worker_init``, the drainer
(``shihui flashsale drain --follow``) and the worker node (``shihui worker``) before their loops.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect once, then freeze every object left; returns how many are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
