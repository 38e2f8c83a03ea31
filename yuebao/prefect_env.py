"""Settings Prefect must have before it is imported: this machine is offline.

Imported first by every entry point that starts Prefect (the CLI, deployments,
tests), so a run never tries to phone home and never prints errors about it.
"""

import os

OFFLINE = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
}


def configure() -> None:
    for name, value in OFFLINE.items():
        os.environ[name] = value
