"""File names and atomic writes shared by every stage that writes outputs."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

_UNSAFE_IN_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f]')


def safe_name(name: str) -> str:
    """A community id or month as a file name: only characters no file system accepts change.

    ``Allston / Brighton`` becomes ``Allston _ Brighton``; Chinese stays Chinese.
    """
    return _UNSAFE_IN_NAME.sub("_", name)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace the file atomically, so a crash never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, document: object) -> None:
    write_text(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
