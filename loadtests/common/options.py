"""Command-line options of every scenario, registered once however many locustfiles import it
(the mixed scenario imports several)."""

from locust import events

from loadtests.common import requestlog  # noqa: F401  (every scenario logs its requests)


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--data-dir", default="loadtest-results/current", help="prepared data")
    parser.add_argument("--presses", type=int, default=2, help="button presses per member")
    parser.add_argument("--retries", type=int, default=3, help="retries of a press on timeout")
