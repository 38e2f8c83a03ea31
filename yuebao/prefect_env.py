"""Settings Prefect must have before it is imported: this machine is offline.

Imported first by every entry point that starts Prefect (the CLI, deployments,
tests), so a run never tries to phone home and never prints errors about it.
"""

import logging
import os

OFFLINE = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
}
# Prefect's temporary server gets 20 s to start by default, which a loaded 2-core
# machine can miss; a user's own value wins.
STARTUP_TIMEOUT = ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def configure() -> None:
    for name, value in OFFLINE.items():
        os.environ[name] = value
    os.environ.setdefault(*STARTUP_TIMEOUT)


class _NoTracebackFor(logging.Filter):
    """Drops the traceback of errors that already say all there is to say in one line."""

    def __init__(self, expected: tuple[type[BaseException], ...]):
        super().__init__()
        self.expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.expected):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_expected_errors(*expected: type[BaseException]) -> None:
    """Prefect logs every failure with its traceback; for a usage error or a failed run
    whose message names the problem, the traceback only hides that line."""
    quiet = _NoTracebackFor(expected)
    for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, _NoTracebackFor) for f in handler.filters):
                handler.addFilter(quiet)
