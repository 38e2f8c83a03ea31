"""Fetch: every configured export as a local file, named as the config names it.

A ``sources`` entry is a local path or glob (read where it is), or a URL the
exports are pulled from: ``s3://`` (S3-compatible object storage such as Aliyun
OSS or Tencent COS), ``sftp://`` or ``https://``, globs included. Remote files
are copied once into the download cache (``downloads``) and read from there;
reports name them by their URL, so a quarantined row says where to fix it.
Credentials come from the environment variables or Prefect Secret blocks that
``[storage.<name>]`` names (``remote``).

This stage touches the outside, so it retries, per file, on transient errors
only; ingest then reads local files.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from yuebao.config import Config, remote_scheme
from yuebao.errors import UsageError, one_line
from yuebao.schema import TABLES
from yuebao.tasks.fetch.downloads import Downloads, retrying, transient
from yuebao.tasks.fetch.remote import Location, check_credentials, location
from yuebao.tasks.ingest.cache import cache_folder
from yuebao.tasks.ingest.read import Export, find_exports, shown_path

__all__ = ["Downloads", "Fetched", "check_sources", "config_downloads", "fetch_sources",
           "fetch_task"]


@dataclass
class Fetched:
    """The exports of one run, per table, and what the download cache did for them."""

    exports: dict[str, list[Export]]
    downloaded: list[str] = field(default_factory=list)  # URLs copied this time
    reused: list[str] = field(default_factory=list)  # URLs unchanged since the last copy


def config_downloads(config: Config) -> Downloads:
    """The download cache beside the canonical cache (``cache_dir``, ``YUEBAO_CACHE_DIR``).

    Remote files need a local copy even when the cache is off (``cache = false``,
    ``--no-cache``); they are then all downloaded again instead of reused.
    """
    override = os.environ.get("YUEBAO_CACHE_DIR", "").strip()
    folder = Path(override).expanduser() if override else config.resolve(config.cache_dir)
    return Downloads(folder, reuse=cache_folder(config.cache, folder) is not None)


def _failure(error: BaseException, url: str, where: str) -> Exception:
    """A failed remote file as one clear line: a usage error unless it may pass by itself."""
    import aiohttp

    if isinstance(error, UsageError):
        return error
    reason = one_line(error, named=True)
    response = error if isinstance(error, aiohttp.ClientResponseError) else None
    if isinstance(error, FileNotFoundError) or (response and response.status in (404, 410)):
        return UsageError(f"{url}: no such file on the server")
    if isinstance(error, ssl.SSLCertVerificationError
                  | aiohttp.ClientConnectorCertificateError):
        return UsageError(f"{url}: the server's certificate is not trusted ({reason}); if it "
                          f"is the company's own, name its CA certificate with {where}.ca_file")
    if transient(error):
        return OSError(f"{url}: {reason} (gave up after retrying)")
    if response is not None:
        return UsageError(f"{url}: the server answered {response.status} {response.message}; "
                          f"check the URL and the credentials {where} names")
    return UsageError(f"{url}: cannot be read ({reason}); "
                      f"check the URL and the credentials {where} names")


def _remote(url: str, table: str, config: Config, downloads: Downloads,
            locations: dict[tuple[str, str, str], Location]) -> list[Export]:
    named = config.storage_for(url)
    storage = named[1] if named else None
    where = f"storage.{named[0]}" if named else "the config"
    key = (remote_scheme(url) or "", url.split("://", 1)[1].split("/", 1)[0],
           named[0] if named else "")
    try:
        if key not in locations:
            locations[key] = retrying(storage, url, downloads.logger)(location, url, config)
        place = locations[key]
        files = retrying(storage, url, downloads.logger)(place.files, url)
    except Exception as error:
        raise _failure(error, url, where) from error
    if not files:
        raise UsageError(f"no {table} export matches sources.{table} entry {url}")
    exports = []
    for file in files:
        try:
            exports.append(Export(downloads.get(place, file), file.url))
        except Exception as error:
            raise _failure(error, file.url, where) from error
    return exports


def _order(name: str) -> tuple[str, ...]:
    """A file's place in its table: by path part, as local exports always were (a Path's
    order), URLs after local files and compared the same way."""
    if not remote_scheme(name):
        return Path(name).parts
    scheme, _, rest = name.partition("://")
    host, _, path = rest.partition("/")
    return (f"{scheme}://{host}", *PurePosixPath("/" + path).parts)


def fetch_sources(config: Config, downloads: Downloads | None = None,
                  logger: logging.Logger | logging.LoggerAdapter | None = None) -> Fetched:
    """Every configured export as a local file with its name for reports.

    Per table, the files are in sorted order of their full path or URL (the order
    ingest reads them in, which decides between duplicates). A source that matches
    nothing, a missing secret or a refused login is a :class:`UsageError`.
    """
    downloads = downloads or config_downloads(config)
    logger = logger or logging.getLogger("yuebao.fetch")
    downloads.logger = logger
    locations: dict[tuple[str, str, str], Location] = {}
    exports: dict[str, list[Export]] = {}
    try:
        for table in TABLES:
            entries: list[str] = getattr(config.sources, table)
            if not entries:
                continue
            found: dict[str, Export] = {}
            local = [e for e in entries if not remote_scheme(e)]
            if local:
                for path in find_exports(local, config.base_dir, table):
                    found[str(path)] = Export(path, shown_path(path, config.base_dir))
            for url in (e for e in entries if remote_scheme(e)):
                found.update({e.shown: e for e in _remote(url, table, config, downloads,
                                                          locations)})
            exports[table] = [found[key] for key in sorted(found, key=_order)]
    finally:
        for place in locations.values():
            client = getattr(place.fs, "client", None)  # an SFTP connection
            if client is not None:
                client.close()
    if downloads.downloaded or downloads.reused:
        logger.info("Remote exports: %d downloaded, %d unchanged since the last download",
                    len(downloads.downloaded), len(downloads.reused))
    return Fetched(exports, list(downloads.downloaded), list(downloads.reused))


def check_sources(config: Config) -> None:
    """What would make fetching a usage error, found before Prefect starts.

    Local sources must match a file; remote ones must have the environment
    variables their storage names (the server itself is asked only by the run).
    """
    for table in TABLES:
        entries: list[str] = getattr(config.sources, table)
        local = [e for e in entries if not remote_scheme(e)]
        if local:
            find_exports(local, config.base_dir, table)
        for url in (e for e in entries if remote_scheme(e)):
            check_credentials(url, config)


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_task(config: Config) -> Fetched:
    """Prefect task: the configured exports, remote ones pulled into the download cache."""
    return fetch_sources(config, logger=get_run_logger())
