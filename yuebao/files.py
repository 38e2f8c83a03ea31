"""File names and atomic writes shared by every stage that writes outputs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from yuebao.schema import PORTFOLIO

_UNSAFE_IN_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f-\x9f]')
# Names a community's folder must not take: the portfolio's folder, the folder of
# ``yuebao validate``, and the files beside the community folders in a month's folder.
# Names starting with "." are the staging and retired copies of a month (render.py).
RESERVED_FOLDERS = (PORTFOLIO, "validate", "quarantine.csv", "data_quality.json")
# A file name holds at most 255 bytes; room is left for ``~N`` and ``.eml``.
MAX_FOLDER_BYTES = 200


def safe_name(name: str) -> str:
    """A community id or month as a file name: only characters no file system accepts change.

    ``Allston / Brighton`` becomes ``Allston _ Brighton``; Chinese stays Chinese.
    """
    return _UNSAFE_IN_NAME.sub("_", name)


def folder_key(name: str) -> str:
    """What a file system compares: macOS and Windows fold case, macOS normalises Unicode.

    Two folders whose keys are equal are one folder on some machine, so they collide.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


_RESERVED_KEYS = frozenset(folder_key(name) for name in RESERVED_FOLDERS)


def reserved_folder(name: str) -> bool:
    """Whether a folder name is one yuebao keeps for itself (or no name at all)."""
    return not name or name.startswith(".") or folder_key(name) in _RESERVED_KEYS


def plain_folder(community_id: str) -> str:
    """:func:`safe_name` of a community id, in NFC, cut to :data:`MAX_FOLDER_BYTES`."""
    name = safe_name(unicodedata.normalize("NFC", community_id))
    return name.encode("utf-8")[:MAX_FOLDER_BYTES].decode("utf-8", "ignore")


def community_folder(community_id: str) -> str:
    """The folder of one community, before :func:`scope_folders` makes it unique.

    :func:`plain_folder` of the id; a name that is empty, starts with ``.`` (``.``
    and ``..`` too) or is reserved (:data:`RESERVED_FOLDERS`) gets a ``_`` in front:
    ``..`` is ``_..``, ``_portfolio`` is ``__portfolio``, ``validate`` is ``_validate``.
    """
    name = plain_folder(community_id)
    return "_" + name if reserved_folder(name) else name


def scope_folders(scope_ids: Iterable[str]) -> dict[str, str]:
    """The folder of every scope of a run, each a single, distinct, unreserved name.

    ``scope_ids`` in priority order, as the metrics list them: configured
    communities first (the config has been checked for collisions when it was
    loaded, see ``config.py``), then those found only in the data, sorted. The
    portfolio's folder is always ``_portfolio``. A community whose folder would
    repeat one already taken (compared by :func:`folder_key`) gets ``~2``,
    ``~3``…: the earlier one keeps the plain name, so a configured community
    never loses its folder to one that only appears in the data.

    The renderer and the outbox both name files by this, so a review's folder and
    its ``.eml`` always agree.
    """
    folders: dict[str, str] = {}
    taken = set(_RESERVED_KEYS)
    for scope in scope_ids:
        if scope in folders:
            continue
        if scope == PORTFOLIO:
            folders[scope] = PORTFOLIO
            continue
        base = name = community_folder(scope)
        number = 2
        while folder_key(name) in taken:
            name = f"{base}~{number}"
            number += 1
        taken.add(folder_key(name))
        folders[scope] = name
    return folders


def slug(scope: str) -> str:
    """A scope id as an artifact key part: lowercase ASCII letters, digits and dashes.

    An id that is already such a slug stays as it is; any other (Chinese, spaces,
    capitals) becomes its ASCII letters and digits, if any, plus 8 hex digits of
    its hash, so two ids never share a key and the same id always gets the same one.
    """
    if scope == PORTFOLIO:
        return "portfolio"
    folded = unicodedata.normalize("NFKD", scope).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if text == scope and text != "portfolio":
        return text
    digest = hashlib.sha1(scope.encode("utf-8")).hexdigest()[:8]
    return f"{text}-{digest}" if text else f"x-{digest}"


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


_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def reproducible_zip(path: Path, moment: datetime) -> None:
    """Make a Word or Excel file the same bytes whenever the same draft is rendered.

    python-docx and openpyxl stamp the time of writing into every zip entry and
    into the document's created/modified properties. A re-run of the same month
    would then give attachments that differ from the ones sent, so the draft's
    content hash (and its Message-ID on ``--resend``) would change with nothing
    changed. Every stamp becomes ``moment``: the end of the month the draft is
    as of.
    """
    utc = moment.astimezone(UTC)
    stamp = utc.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(rb"\g<1>" + stamp + rb"\g<3>", data)
            fixed = zipfile.ZipInfo(entry.filename, date_time=utc.timetuple()[:6])
            fixed.compress_type = entry.compress_type
            fixed.external_attr = entry.external_attr
            target.writestr(fixed, data)
    write_bytes(path, buffer.getvalue())
