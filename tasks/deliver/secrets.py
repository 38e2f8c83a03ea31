"""The SMTP password: from an environment variable or a Prefect Secret block, never shown."""

from __future__ import annotations

from yuebao.config import Smtp
from yuebao.errors import UsageError
from yuebao.secrets import named_secret


def smtp_password(smtp: Smtp) -> str:
    """The SMTP password, from the named environment variable or Prefect Secret block.

    The environment variable wins when it is set; the block is the fallback. A
    missing secret is a configuration error naming where it was looked for; the
    value itself never appears in any message.
    """
    password = named_secret(smtp.password_env, smtp.password_block, "delivery.smtp.password",
                            f"the SMTP password of {smtp.user}")
    if password is None:
        raise UsageError(
            "delivery.smtp: set password_env (an environment variable's name) or "
            "password_block (a Prefect Secret block's name) for the SMTP password"
        )
    return password
