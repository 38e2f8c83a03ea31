"""The SMTP password: from an environment variable or a Prefect Secret block, never shown."""

from __future__ import annotations

import os
from typing import Any

from yuebao.config import Smtp
from yuebao.errors import UsageError


def smtp_password(smtp: Smtp) -> str:
    """The SMTP password, from the named environment variable or Prefect Secret block.

    The environment variable wins when it is set; the block is the fallback. A
    missing secret is a configuration error naming where it was looked for; the
    value itself never appears in any message.
    """
    if smtp.password_env:
        value = os.environ.get(smtp.password_env)
        if value:
            return value
        if not smtp.password_block:
            raise UsageError(
                f"delivery.smtp.password_env: the environment variable {smtp.password_env} "
                f"is not set (it should hold the SMTP password of {smtp.user})"
            )
    if smtp.password_block:
        return _password_from_block(smtp.password_block)
    raise UsageError(
        "delivery.smtp: set password_env (an environment variable's name) or "
        "password_block (a Prefect Secret block's name) for the SMTP password"
    )


def _password_from_block(name: str) -> str:
    """The value of a Prefect Secret block.

    ``Secret.get()`` JSON-decodes string values, so a password such as
    ``123456`` or ``true`` would come back as a number or a boolean; the raw
    stored string is used in that case.
    """
    try:
        from prefect.blocks.system import Secret

        # async_dispatch takes _sync at run time (sync even inside an event loop);
        # its typed signature does not show it.
        block: Secret[Any] = Secret.load(name, _sync=True)  # type: ignore[call-arg, assignment]
        value = block.get()
        if not isinstance(value, str):
            raw = getattr(getattr(block, "value", None), "get_secret_value", lambda: None)()
            value = raw if isinstance(raw, str) else value
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise UsageError(
            f"delivery.smtp.password_block: cannot load the Prefect Secret block "
            f"{name!r} ({reason})"
        ) from None
    if not isinstance(value, str) or not value:
        raise UsageError(
            f"delivery.smtp.password_block: the Prefect Secret block {name!r} "
            f"does not hold a non-empty text value"
        )
    return value
