"""The configuration file (interfaces.md), validated once when it is loaded.

Everything downstream receives a :class:`Config` and never reads TOML itself.
Relative paths are resolved against the config file's folder here, so no other
module needs to know where the file was.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from yuebao.errors import UsageError, read_toml, validated
from yuebao.files import folder_key, plain_folder, reserved_folder

SLA_CLASSES = ("repair_urgent", "repair_normal", "complaint", "inquiry", "suggestion", "other")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaRule(_Strict):
    """Response and resolution limits for one SLA class; limits are inclusive."""

    response_minutes: float = Field(gt=0)
    resolution_hours: float = Field(gt=0)


# The URL schemes an export may be pulled from (tasks/fetch); anything else is a local path.
REMOTE_SCHEMES = ("s3", "sftp", "http", "https")


def remote_scheme(entry: str) -> str | None:
    """The scheme of a ``sources`` entry that is a URL, or None for a local path or glob."""
    scheme, found, _ = entry.partition("://")
    return scheme.lower() if found and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]+", scheme) else None


def _check_url(url: str) -> str:
    """A URL as the config may hold it: a known scheme, a host, and no secret in it."""
    from urllib.parse import urlsplit

    scheme = remote_scheme(url)
    if scheme not in REMOTE_SCHEMES:
        raise ValueError(f"{url!r}: unsupported URL scheme {scheme!r} "
                         "(use a local path or glob, s3://, sftp://, http:// or https://)")
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError(f"{parts.scheme}://{parts.hostname}...: a password in the URL would "
                         "sit in the config file; name an environment variable or a Prefect "
                         "Secret block in a [storage.<name>] table instead")
    if not parts.netloc:
        raise ValueError(f"{url!r}: no host or bucket after {scheme}://")
    return url


class Sources(_Strict):
    profile: str = "canonical"
    tickets: list[str] = []
    bills: list[str] = []
    payments: list[str] = []

    @field_validator("tickets", "bills", "payments", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("tickets", "bills", "payments")
    @classmethod
    def _known_urls(cls, value: list[str]) -> list[str]:
        return [_check_url(entry) if remote_scheme(entry) else entry for entry in value]

    def remote(self) -> bool:
        """Whether any export is pulled from a URL."""
        return any(remote_scheme(e) for e in [*self.tickets, *self.bills, *self.payments])


class Storage(_Strict):
    """Where remote exports live and how to log in there (docs/configuration.md).

    Applies to every ``sources`` URL that starts with ``url``. Secrets are named,
    never written: ``*_env`` is an environment variable's name, ``*_block`` a
    Prefect Secret block's name (the variable wins when both are set).
    """

    url: str
    # S3-compatible object storage (Aliyun OSS, Tencent COS, MinIO, AWS S3)
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: Literal["auto", "virtual", "path"] = "auto"
    key_env: str | None = None
    key_block: str | None = None
    secret_env: str | None = None
    secret_block: str | None = None
    # SFTP and HTTP(S) basic authentication
    user: str | None = None
    password_env: str | None = None
    password_block: str | None = None
    # SFTP: a private key file (its passphrase named like the password) and the host keys
    key_file: Path | None = None
    passphrase_env: str | None = None
    passphrase_block: str | None = None
    known_hosts: Path | None = None
    # S3 session token, or HTTP(S) bearer token
    token_env: str | None = None
    token_block: str | None = None
    ca_file: Path | None = None  # an extra CA bundle for a company server's own certificate
    timeout_seconds: float = Field(default=60, gt=0)
    # Transient failures (a dropped connection, a 5xx reply) are retried per file
    # with exponential backoff; a missing file or a refused login is not.
    retry_attempts: int = Field(default=4, ge=1)
    retry_initial_seconds: float = Field(default=2, gt=0)
    retry_max_seconds: float = Field(default=30, gt=0)

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str) -> str:
        return _check_url(value)

    @property
    def scheme(self) -> str:
        return remote_scheme(self.url) or ""


class Community(_Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    city: str | None = None
    climate_zone: str | None = None
    households: int | None = Field(default=None, gt=0)
    managers: list[str] = []
    heating_start: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    heating_end: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    targets: dict[str, float] = {}
    sla: dict[Literal[SLA_CLASSES], SlaRule] = {}  # type: ignore[valid-type]

    @property
    def display_name(self) -> str:
        return self.name or self.id


class Portfolio(_Strict):
    name: str | None = None  # None: the language's word for "the company"
    recipients: list[str] = []


class Smtp(_Strict):
    host: str
    port: int = 465
    security: Literal["ssl", "starttls"] = "ssl"
    user: str
    sender: str | None = None
    sender_name: str | None = None
    password_env: str | None = None
    password_block: str | None = None
    timeout_seconds: float = 30
    ca_file: Path | None = None  # extra CA bundle for a company server's own certificate
    # Temporary failures (4xx replies, a dropped or refused connection) are retried
    # within the run with exponential backoff, bounded by count and by total time.
    retry_attempts: int = Field(default=5, ge=1)
    retry_initial_seconds: float = Field(default=2, gt=0)
    retry_max_seconds: float = Field(default=60, gt=0)
    retry_total_seconds: float = Field(default=300, gt=0)


class Delivery(_Strict):
    method: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path = Path("outbox")
    smtp: Smtp | None = None


class Config(_Strict):
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    # Where the holidays come from (ISO code): China's festivals with their own advice, or
    # another country's public holidays as the holidays package lists them.
    country: str = "CN"
    output_dir: Path = Path("out")
    # Each export file's own checks, kept once (docs/configuration.md, "The cache").
    cache: bool = True
    cache_dir: Path = Path(".yuebao-cache")
    # Entries no run has used for this many days are removed after a run; 0 keeps them.
    cache_keep_days: int = Field(default=90, ge=0)
    hotspot_min: int = Field(default=3, ge=1)
    # How long a run waits for another run of the same month to finish before failing.
    lock_wait_seconds: float = Field(default=600, ge=0)
    # Where the flows' tasks run: threads, processes, dask://HOST:PORT or dask-local:N.
    task_runner: str = "threads"
    sources: Sources = Sources()
    storage: dict[str, Storage] = {}
    communities: list[Community] = []
    portfolio: Portfolio = Portfolio()
    delivery: Delivery = Delivery()
    targets: dict[str, float] = {}
    sla: dict[Literal[SLA_CLASSES], SlaRule] = {}  # type: ignore[valid-type]
    base_dir: Path = Path(".")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("task_runner")
    @classmethod
    def _known_runner(cls, value: str) -> str:
        from yuebao.runners import check_spec

        try:
            return check_spec(value)
        except UsageError as error:
            raise ValueError(str(error)) from error

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        import holidays

        if value not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r} "
                             "(an ISO 3166 code such as \"CN\" or \"US\")")
        return value

    def community(self, community_id: str) -> Community | None:
        return next((c for c in self.communities if c.id == community_id), None)

    def sla_for(self, community_id: str | None) -> dict[str, SlaRule]:
        """The SLA table of a community: defaults, then the config, then its own."""
        table = dict(self.sla)
        community = self.community(community_id) if community_id else None
        if community:
            table.update(community.sla)
        return table

    def targets_for(self, community_id: str | None) -> dict[str, float]:
        targets = dict(self.targets)
        community = self.community(community_id) if community_id else None
        if community:
            targets.update(community.targets)
        return targets

    def storage_for(self, url: str) -> tuple[str, Storage] | None:
        """The ``[storage.<name>]`` entry whose ``url`` is the longest prefix of ``url``."""
        matches = [(len(s.url), name, s) for name, s in self.storage.items()
                   if url.startswith(s.url)]
        return max(matches)[1:] if matches else None

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def defaults() -> dict:
    text = resources.files("yuebao.knowledge").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; any problem is one :class:`UsageError` line."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    return config_from_dict(read_toml(path, str(path)), base_dir=path.resolve().parent,
                            source=str(path))


def config_from_dict(raw: dict, base_dir: Path, source: str = "config") -> Config:
    base = defaults()
    merged = {**raw}
    merged["targets"] = {**base["targets"], **raw.get("targets", {})}
    merged["sla"] = {**base["sla"], **raw.get("sla", {})}
    merged.setdefault("hotspot_min", base["hotspot_min"])
    merged["base_dir"] = base_dir
    config = validated(Config, merged, source)
    if config.delivery.method == "smtp" and config.delivery.smtp is None:
        raise UsageError(f"{source}: delivery.method is 'smtp' but [delivery.smtp] is missing")
    ids = [c.id for c in config.communities]
    if len(ids) != len(set(ids)):
        raise UsageError(f"{source}: communities: an id appears twice")
    _check_folders(ids, source)
    return config


def _check_folders(ids: list[str], source: str) -> None:
    """Each configured community gets a folder of its own, named as its id shows.

    Found here, at start, rather than disambiguated later: a manager's review in
    ``a_b~2`` would surprise everyone, and only the config's author can choose the id.
    """
    owners: dict[str, str] = {}
    for community_id in ids:
        folder = plain_folder(community_id)
        if reserved_folder(folder):
            raise UsageError(
                f"{source}: communities: id {community_id!r} would be written to the folder "
                f"{folder!r}, a name yuebao keeps for itself (_portfolio, validate, "
                "quarantine.csv, data_quality.json, or a name starting with '.'); "
                "choose another id")
        other = owners.setdefault(folder_key(folder), community_id)
        if other != community_id:
            raise UsageError(
                f"{source}: communities: ids {other!r} and {community_id!r} would both be "
                f"written to the folder {plain_folder(other)!r} (file names cannot hold "
                "/ \\ : * ? \" < > |, and macOS and Windows ignore case); "
                "give one of them another id")
