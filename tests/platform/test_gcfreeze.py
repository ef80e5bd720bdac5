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


# The real commands, as processes: a wrapper runs the CLI exactly as `python -m shihui` does and
# writes the process's freeze count when it exits (after SIGTERM, its normal stop).
WRAPPER = """
import atexit, gc, sys
path = sys.argv[1]
atexit.register(lambda: open(path, "w").write(str(gc.get_freeze_count())))
from shihui.cli import main
sys.argv = ["shihui", *sys.argv[2:]]
main()
"""


def _frozen_by(app_config, tmp_path, argv, ready) -> int:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import server_env

    out = tmp_path / "frozen.txt"
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, str(out), *argv],
                            env=server_env(app_config))  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready(proc.pid) and time.monotonic() < deadline:
            assert proc.poll() is None, f"{argv} exited with {proc.returncode}"
            time.sleep(0.2)
        assert ready(proc.pid), f"{argv} did not come up"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return int(out.read_text())


def test_the_drainer_freezes_its_start_up_objects_before_it_drains(app, app_ctx, app_config,
                                                                   tmp_path):  # fmt: skip
    from flashsale.jobs import DRAINER
    from marketplace import heartbeats

    def beating(pid):  # the drain loop's heartbeat, from this process: the loop is running
        beat = heartbeats.read(DRAINER)
        return bool(beat) and beat.get("pid") == str(pid)

    frozen = _frozen_by(app_config, tmp_path, ["flashsale", "drain", "--follow"], beating)
    assert frozen > 10_000  # the loaded app: tens of thousands of objects, not a handful


def test_the_worker_node_freezes_its_start_up_objects(app, app_ctx, app_config, tmp_path):
    from rq import Worker

    from marketplace.extensions import get_rq_redis

    def registered(pid):
        return any(w.pid == pid for w in Worker.all(connection=get_rq_redis()))

    argv = ["worker", "--queues", "none", "--name", "gc-freeze-check"]
    assert _frozen_by(app_config, tmp_path, argv, registered) > 10_000
