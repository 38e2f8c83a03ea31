"""Secrets named in the config: an environment variable or a Prefect Secret block.

The config only ever holds the *name* of where a secret is (``*_env``,
``*_block``), never its value, and no message shows the value: a missing secret
is a :class:`UsageError` naming the key and the variable or block looked for.
Used for the SMTP password (``tasks/deliver``) and the storage credentials of
remote exports (``tasks/fetch``).
"""

from __future__ import annotations

import os
from typing import Any

from yuebao.errors import UsageError


def named_secret(env: str | None, block: str | None, where: str, what: str) -> str | None:
    """The secret from the environment variable ``env``, else the Prefect block ``block``.

    The environment variable wins when it is set; the block is the fallback.
    ``where`` is the config key without its ``_env``/``_block`` suffix
    (``storage.oss.secret``), ``what`` says what the secret is, for the message.
    None when neither is named: the secret is optional there.
    """
    if env:
        value = os.environ.get(env)
        if value:
            return value
        if not block:
            raise UsageError(
                f"{where}_env: the environment variable {env} is not set "
                f"(it should hold {what})")
    if block:
        return secret_from_block(block, f"{where}_block")
    return None


def secret_from_block(name: str, where: str) -> str:
    """The text of a Prefect Secret block.

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
            f"{where}: cannot load the Prefect Secret block {name!r} ({reason})") from None
    if not isinstance(value, str) or not value:
        raise UsageError(
            f"{where}: the Prefect Secret block {name!r} does not hold a non-empty text value")
    return value
