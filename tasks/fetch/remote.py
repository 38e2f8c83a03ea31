"""Remote exports through fsspec: a filesystem per URL, logged in with named secrets.

``s3://`` is any S3-compatible object storage (Aliyun OSS, Tencent COS, MinIO,
AWS) through s3fs, ``sftp://`` an SSH server through paramiko, ``http(s)://`` a
web server through aiohttp. The credentials come from the ``[storage.<name>]``
table whose ``url`` is the longest prefix of the source (``Config.storage_for``),
read from environment variables or Prefect Secret blocks at the moment of use
and handed to the client only: they are never logged, and no error shows them.

The clients' own retry loops are turned off (botocore, s3fs): ``downloads``
retries each file with tenacity, so a failing request is not tried 5 × 5 times.
"""

from __future__ import annotations

import base64
import fnmatch
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import paramiko
from fsspec import AbstractFileSystem

from yuebao.config import Config, Storage, remote_scheme
from yuebao.errors import UsageError
from yuebao.secrets import named_secret

_MAGIC = re.compile(r"[*?\[]")
_HTTP_MAGIC = re.compile(r"[*\[]")  # "?" starts a query in a URL, not a glob


@dataclass(frozen=True)
class RemoteFile:
    """One file found at a source URL, with what says whether it changed."""

    url: str  # as reports name it: scheme://host/path
    path: str  # the filesystem's own name for it
    size: int | None
    fingerprint: str | None  # ETag, checksum, or size and modification time


@dataclass
class Location:
    """A filesystem for one storage: its URLs' scheme and host, logged in."""

    fs: AbstractFileSystem
    scheme: str
    netloc: str
    storage: Storage | None
    where: str  # the config key that says how to log in, for messages

    def path(self, url: str) -> str:
        """The filesystem's own path of ``url``: ``bucket/key``, ``/dir/file`` or the URL."""
        parts = urlsplit(url)
        if self.scheme in ("http", "https"):
            # Web servers list their folders percent-encoded (工单 as %E5%B7%A5%E5%8D%95):
            # a glob only matches them encoded the same way.
            path = quote(unquote(parts.path), safe="/*[]!-._~")
            return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        if self.scheme == "s3":
            return f"{parts.netloc}{unquote(parts.path)}".rstrip("/")
        return unquote(parts.path) or "/"

    def url(self, path: str) -> str:
        """The URL a report shows for a path of this filesystem."""
        if self.scheme in ("http", "https"):
            return unquote(path)
        if self.scheme == "s3":
            return f"s3://{path}"
        return f"{self.scheme}://{self.netloc}{path}"

    def files(self, url: str) -> list[RemoteFile]:
        """The files ``url`` names: one file, or those its glob pattern matches."""
        path = self.path(url)
        magic = _HTTP_MAGIC if self.scheme in ("http", "https") else _MAGIC
        if magic.search(path) and self.scheme in ("http", "https"):
            # A web server's folder listing has names only: a HEAD each gives size and ETag.
            infos = [(name, self.fs.info(name)) for name in self._web_glob(path)]
        elif magic.search(path):
            found = self.fs.glob(path, detail=True)
            infos = [(name, info) for name, info in sorted(found.items())
                     if info.get("type", "file") == "file"]
        else:
            info = self.fs.info(path)
            if info.get("type", "file") != "file":
                raise IsADirectoryError(f"{url} is a folder; name its files, e.g. {url}/*.csv")
            infos = [(path, info)]
        return [RemoteFile(self.url(name), name, _size(info), fingerprint(info))
                for name, info in infos]

    def _web_glob(self, url: str) -> list[str]:
        """The files a web server's folder listings show for a glob, folder level by level.

        fsspec's own glob walks into every file (a GET of each) to look for links;
        this reads only the listings of the folders the pattern passes through.
        ``**`` is not supported here: a web server has no cheap recursive listing.
        """
        parts = urlsplit(url)
        segments = parts.path.lstrip("/").split("/")
        current = [urlunsplit((parts.scheme, parts.netloc, "/", "", ""))]
        for number, segment in enumerate(segments):
            last = number == len(segments) - 1
            if not _HTTP_MAGIC.search(segment):
                current = [base + segment + ("" if last else "/") for base in current]
                continue
            wanted = unquote(segment)
            current = [name for base in current for name in self.fs.ls(base, detail=False)
                       if name.endswith("/") != last and fnmatch.fnmatchcase(
                           unquote(name.rstrip("/").rpartition("/")[2]), wanted)]
        return sorted(current)


def _size(info: dict) -> int | None:
    size = info.get("size")
    return int(size) if size is not None else None


def fingerprint(info: dict) -> str | None:
    """What changes when the remote file changes, from its listing or HEAD reply.

    The ETag (S3, and most web servers) or a checksum the server sends; else the
    size and modification time (SFTP, a web server with only Last-Modified).
    None when the server tells neither: the file is then downloaded every time.
    """
    size = _size(info)
    for field in ("ETag", "etag", "Content-MD5", "Digest"):
        if info.get(field):
            return f"{field.lower()}={info[field]};size={size}"
    for field in ("mtime", "LastModified", "Last-Modified"):
        if info.get(field) is not None and size is not None:
            return f"size={size};mtime={info[field]}"
    return None


class _KnownHosts(paramiko.MissingHostKeyPolicy):
    """Only servers whose host key is in a known_hosts file: a password goes to no impostor."""

    def __init__(self, files: list[Path], where: str) -> None:
        self.keys = paramiko.HostKeys()
        for file in files:
            if file.is_file():
                self.keys.load(str(file))
        self.files, self.where = files, where

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if self.keys.check(hostname, key):
            return
        known = self.keys.lookup(hostname)
        if known:
            raise UsageError(
                f"{self.where}: the SFTP server {hostname} showed a host key that is not the "
                f"one in {', '.join(map(str, self.files))}; refusing to log in")
        raise UsageError(
            f"{self.where}: the host key of the SFTP server {hostname} is not known "
            f"(looked in {', '.join(map(str, self.files))}); add it, for example with "
            f"`ssh-keyscan` into known_hosts, or name a file with known_hosts")


_WHAT = {"key": "the access key id", "secret": "the secret access key",
         "token": "the token", "password": "the password",
         "passphrase": "the passphrase of key_file"}


def _secret(storage: Storage | None, name: str, where: str) -> str | None:
    """A secret the storage names (``<name>_env`` or ``<name>_block``), or None."""
    if storage is None:
        return None
    return named_secret(getattr(storage, f"{name}_env"), getattr(storage, f"{name}_block"),
                        f"{where}.{name}", f"{_WHAT[name]} for {storage.url}")


def _ssl_context(storage: Storage | None, config: Config, where: str) -> ssl.SSLContext | None:
    if storage is None or storage.ca_file is None:
        return None
    path = config.resolve(storage.ca_file)
    try:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        raise UsageError(f"{where}.ca_file: cannot read {path} ({error})") from None
    return context


def _s3(storage: Storage | None, config: Config, where: str) -> AbstractFileSystem:
    from s3fs import S3FileSystem

    key = _secret(storage, "key", where)
    secret = _secret(storage, "secret", where)
    token = _secret(storage, "token", where)
    if (key is None) != (secret is None):
        raise UsageError(f"{where}: name both the access key (key_env or key_block) and the "
                         "secret key (secret_env or secret_block), or neither")
    timeout = storage.timeout_seconds if storage else 60
    config_kwargs: dict[str, Any] = {"retries": {"total_max_attempts": 1},
                                     "connect_timeout": timeout, "read_timeout": timeout}
    client_kwargs: dict[str, Any] = {}
    endpoint = None
    if storage is not None:
        config_kwargs["s3"] = {"addressing_style": storage.addressing_style}
        endpoint = storage.endpoint_url
        if storage.region:
            client_kwargs["region_name"] = storage.region
        if storage.ca_file:
            client_kwargs["verify"] = str(config.resolve(storage.ca_file))
    fs = S3FileSystem(key=key, secret=secret, token=token, endpoint_url=endpoint,
                      client_kwargs=client_kwargs, config_kwargs=config_kwargs,
                      use_listings_cache=False, skip_instance_cache=True)
    fs.retries = 1  # one try per call: downloads retries the file
    return fs


def _sftp(url: str, storage: Storage | None, config: Config, where: str) -> AbstractFileSystem:
    from fsspec.implementations.sftp import SFTPFileSystem

    parts = urlsplit(url)
    user = parts.username or (storage.user if storage else None)
    password = _secret(storage, "password", where)
    passphrase = _secret(storage, "passphrase", where)
    key_file = config.resolve(storage.key_file) if storage and storage.key_file else None
    known = [config.resolve(storage.known_hosts)] if storage and storage.known_hosts else [
        Path("~/.ssh/known_hosts").expanduser()]
    timeout = storage.timeout_seconds if storage else 60
    # Without a password or key named, the usual SSH keys and agent are tried.
    default_keys = password is None and key_file is None
    return SFTPFileSystem(
        parts.hostname, port=parts.port or 22, username=user, password=password,
        key_filename=str(key_file) if key_file else None, passphrase=passphrase,
        look_for_keys=default_keys, allow_agent=default_keys, timeout=timeout,
        banner_timeout=timeout, auth_timeout=timeout,
        host_key_policy=_KnownHosts(known, where), skip_instance_cache=True)


def _http(url: str, storage: Storage | None, config: Config, where: str) -> AbstractFileSystem:
    import aiohttp
    from fsspec.implementations.http import HTTPFileSystem

    parts = urlsplit(url)
    user = parts.username or (storage.user if storage else None)
    password = _secret(storage, "password", where)
    token = _secret(storage, "token", where)
    timeout = storage.timeout_seconds if storage else 60
    client_kwargs: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)}
    options: dict[str, Any] = {}
    if password is not None:
        pair = base64.b64encode(f"{user or ''}:{password}".encode()).decode("ascii")
        options["headers"] = {"Authorization": f"Basic {pair}"}
    elif token is not None:
        options["headers"] = {"Authorization": f"Bearer {token}"}
    context = _ssl_context(storage, config, where)
    if context is not None:
        options["ssl"] = context
    return HTTPFileSystem(client_kwargs=client_kwargs, use_listings_cache=False,
                          skip_instance_cache=True, **options)


def location(url: str, config: Config) -> Location:
    """The filesystem for ``url``, logged in as its ``[storage.<name>]`` table says.

    A missing secret is a :class:`UsageError` naming the variable or block.
    """
    scheme = remote_scheme(url) or ""
    named = config.storage_for(url)
    name, storage = named if named else (None, None)
    where = f"storage.{name}" if name else "storage"
    if storage is not None and storage.scheme != scheme:
        raise UsageError(f"{where}.url is a {storage.scheme}:// URL, but {url} is {scheme}://")
    if scheme == "s3":
        fs = _s3(storage, config, where)
    elif scheme == "sftp":
        fs = _sftp(url, storage, config, where)
    else:
        fs = _http(url, storage, config, where)
    return Location(fs, scheme, urlsplit(url).netloc, storage, where)


def check_credentials(url: str, config: Config) -> None:
    """The environment variables ``url`` needs are set (before Prefect starts).

    Blocks can only be read once Prefect runs, so a storage that names a block is
    checked when the fetch task logs in.
    """
    named = config.storage_for(url)
    if named is None:
        return
    name, storage = named
    for secret in ("key", "secret", "token", "password", "passphrase"):
        if getattr(storage, f"{secret}_block") is None:
            _secret(storage, secret, f"storage.{name}")

