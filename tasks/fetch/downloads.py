"""The download cache: each remote export copied once, kept while it is unchanged.

A backfill reads the exports once, but the next month's run, a re-run and a
``yuebao validate`` would otherwise download years of history again. Each URL
has an entry under ``<cache_dir>/downloads/``: the file under its own name (its
suffix says CSV or Excel) and ``source.json``, written last, with the remote's
fingerprint (ETag, checksum, or size and modification time) and the size. The
next run lists the remote, and a file whose fingerprint is the same is read from
the entry without a download; a changed one is downloaded again over it.

Downloads go to a temporary file beside the entry, are checked against the
listed size, synced and renamed into place; ``source.json`` goes first, so a
half-replaced entry is never taken for a whole one. A file lock per entry makes
two processes fetching the same URL wait for each other instead of downloading
it twice. Transient failures (a dropped connection, a 5xx reply, a timeout) are
retried with exponential backoff; a missing file or a refused login is not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import ssl
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import paramiko
import xxhash
from filelock import FileLock
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from yuebao.config import Storage
from yuebao.errors import UsageError
from yuebao.tasks.fetch.remote import Location, RemoteFile

FORMAT = "yuebao.downloads/1"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
log = logging.getLogger("yuebao.fetch")


def transient(error: BaseException) -> bool:
    """Whether a failure may pass by itself, so that trying again makes sense."""
    import aiohttp
    import botocore.exceptions

    if isinstance(error, UsageError | FileNotFoundError | PermissionError | IsADirectoryError
                  | NotADirectoryError | ssl.SSLCertVerificationError
                  | aiohttp.ClientConnectorCertificateError | paramiko.AuthenticationException
                  | paramiko.BadHostKeyException | botocore.exceptions.NoCredentialsError):
        return False
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status >= 500 or error.status in (408, 429)
    return isinstance(error, OSError | TimeoutError | aiohttp.ClientError | paramiko.SSHException
                      | botocore.exceptions.HTTPClientError
                      | botocore.exceptions.ConnectionError)


def retrying(storage: Storage | None, url: str,
             logger: logging.Logger | logging.LoggerAdapter | None = None) -> Retrying:
    """The retry policy of one remote file: the storage's attempts and backoff."""
    attempts = storage.retry_attempts if storage else 4
    initial = storage.retry_initial_seconds if storage else 2
    longest = storage.retry_max_seconds if storage else 30

    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        (logger or log).warning("%s: %s; trying again (attempt %d of %d)", url,
                    " ".join(str(error).split()) or type(error).__name__,
                    state.attempt_number + 1, attempts)

    return Retrying(stop=stop_after_attempt(attempts),
                    wait=wait_exponential(multiplier=initial, max=longest),
                    retry=retry_if_exception(transient), before_sleep=note, reraise=True)


def _name(url: str) -> str:
    """The entry's file name: the URL's last part, so its suffix still says its format."""
    name = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    return _UNSAFE.sub("_", name) or "export"


class Downloads:
    """A folder of entries, one per URL; counts what it downloaded and what it reused."""

    def __init__(self, folder: Path, reuse: bool = True) -> None:
        self.folder = Path(folder) / "downloads" / "v1"
        self.reuse = reuse  # False: download everything again (--no-cache)
        self.logger: logging.Logger | logging.LoggerAdapter = log  # retries are told here
        self.downloaded: list[str] = []
        self.reused: list[str] = []

    def _entry(self, url: str) -> Path:
        key = xxhash.xxh3_128(url.encode("utf-8")).hexdigest()
        return self.folder / key[:2] / key

    def _kept(self, entry: Path, file: RemoteFile, local: Path) -> bool:
        if not self.reuse or file.fingerprint is None:
            return False
        try:
            meta = json.loads((entry / "source.json").read_text("utf-8"))
            return (meta.get("format") == FORMAT and meta.get("url") == file.url
                    and meta.get("fingerprint") == file.fingerprint
                    and local.stat().st_size == meta.get("bytes"))
        except (OSError, ValueError, AttributeError):
            return False

    def get(self, location: Location, file: RemoteFile,
            retry: Callable[[], Retrying] | None = None) -> Path:
        """The local copy of ``file``: the entry's when unchanged, else downloaded now."""
        entry = self._entry(file.url)
        local = entry / _name(file.url)
        entry.mkdir(parents=True, exist_ok=True)
        with FileLock(str(entry) + ".lock"):
            if self._kept(entry, file, local):
                self.reused.append(file.url)
                return local
            with contextlib.suppress(FileNotFoundError):
                (entry / "source.json").unlink()
            policy = retry() if retry else retrying(location.storage, file.url, self.logger)
            size = policy(self._download, location, file, local)
            _write_json(entry / "source.json", {
                "format": FORMAT, "url": file.url, "fingerprint": file.fingerprint,
                "bytes": size})
            self.downloaded.append(file.url)
            return local

    @staticmethod
    def _download(location: Location, file: RemoteFile, local: Path) -> int:
        temporary = local.with_name(f".{local.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            location.fs.get_file(file.path, str(temporary))
            size = temporary.stat().st_size
            if file.size is not None and size != file.size:
                raise OSError(f"incomplete download: {size} of {file.size} bytes")
            with temporary.open("rb") as opened:
                os.fsync(opened.fileno())
            os.replace(temporary, local)
            return size
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
