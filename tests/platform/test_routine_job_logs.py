"""The periodic jobs' success lines stay out of the worker's and scheduler's log (the drain runs
every 2 s and RQ writes five lines a run, issue #18 item 7); other jobs' lines and every failure,
routine or not, still reach it. A real RQ worker on a real Redis."""

from __future__ import annotations

import logging

import redis
from rq import Queue, SimpleWorker

from shihui.scheduling import RoutineJobLogs


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def test_routine_successes_are_quiet_and_everything_else_is_logged(redis_server_url):
    connection = redis.Redis.from_url(redis_server_url)
    connection.flushdb()
    queue = Queue("default", connection=connection)
    routine = queue.enqueue("os.getpid", result_ttl=60)
    other = queue.enqueue("os.getcwd", result_ttl=60)
    failing = queue.enqueue("os.getppid", 1, 2, 3)  # routine too, and it fails (TypeError)
    logger = logging.getLogger("rq.worker")
    quiet, lines = RoutineJobLogs(["os.getpid", "os.getppid"]), Lines()
    logger.addFilter(quiet)
    logger.addHandler(lines)
    try:
        SimpleWorker([queue], connection=connection).work(burst=True, logging_level="INFO")
    finally:
        logger.removeFilter(quiet)
        logger.removeHandler(lines)
        connection.flushdb()
    text = "\n".join(lines.lines)
    assert routine.id not in text and "os.getpid(" not in text
    assert f"Job OK ({other.id})" in text and "os.getcwd()" in text
    errors = [line for line in lines.lines if line.startswith(("ERROR", "WARNING"))]
    assert any("TypeError" in line or failing.id in line for line in errors), text


def test_the_scheduler_enqueue_line_of_a_routine_job_is_quiet():
    quiet = RoutineJobLogs(["flashsale.jobs.drain_outbox"])
    record = logging.LogRecord("rq.cron", logging.INFO, __file__, 1,
                               "Enqueued job drain_outbox to queue high", None, None)  # fmt: skip
    other = logging.LogRecord("rq.cron", logging.INFO, __file__, 1,
                              "Enqueued job send_report to queue low", None, None)  # fmt: skip
    assert not quiet.filter(record) and quiet.filter(other)
