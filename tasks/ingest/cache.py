"""The canonical cache: each export file's own checks, kept once as Parquet.

A company's exports carry years of history, and every month only one month of
them is new. Each file's rows valid on their own, its quarantine records and
its counts (``validate.Checked``) are kept under a key made of

- the file's content (xxhash of its bytes),
- the table, the time zone, whether a bills export is configured, and the
  mapping profile's resolved content (not its name: an edited profile misses),
- the code version: a fingerprint of the source of the modules that read and
  check exports, and of the libraries' versions that parse them.

So an entry is never stale: anything that could change its content changes
its key. What depends on the other files (bill links, duplicates, notes) is
made again on every run (``combine``). The cache is safe to delete.

An entry is a folder of Parquet files and a ``manifest.json`` written last,
which lists each file's size and xxhash: an entry without a manifest, or whose
files do not match it, or whose Parquet cannot be read, is a miss and is
rebuilt. Files are written under temporary names and renamed into place, and a
file lock per key makes two processes filling the cache at once wait for each
other instead of writing the same entry twice.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from filelock import FileLock, Timeout

from yuebao.profile import Profile
from yuebao.tasks.ingest.validate import Checked

FORMAT = "yuebao.ingest-cache/1"
_PARTS = ("rows", "quarantine", "rejected", "pending")
_CHUNK = 1 << 20
# The modules whose code decides what a file's entry holds.
_PACKAGE = Path(__file__).resolve().parents[1]
_ROOT = Path(__file__).resolve().parents[2]
_LIBRARIES = ("pandas", "pyarrow", "numpy", "python-calamine", "openpyxl", "xlrd")


def file_hash(path: Path) -> str:
    """The xxhash (XXH3, 128 bits) of a file's bytes, read in chunks."""
    digest = xxhash.xxh3_128()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sources() -> list[Path]:
    ingest = sorted((_PACKAGE / "ingest").glob("*.py"))
    yuebao = [_ROOT / "yuebao" / name for name in ("profile.py", "schema.py", "errors.py")]
    return [p for p in [*ingest, *yuebao] if p.is_file()]


def code_fingerprint(paths: list[Path] | None = None) -> str:
    """A fingerprint of the code that reads and checks exports: a code change misses."""
    digest = xxhash.xxh3_128(FORMAT.encode())
    for path in paths if paths is not None else _sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{name}={metadata.version(name)}\0".encode())
    return digest.hexdigest()


@functools.cache
def _code() -> str:
    return code_fingerprint()


@dataclass(frozen=True)
class Key:
    """What an entry's content depends on, besides the file's bytes."""

    table: str
    timezone: str
    profile: Profile
    linked: bool = True  # a bills export is configured
    derived: bool = False  # payments made from a per-bill export's rows
    shown: str | None = None  # only where a made id holds the file's name (@row)

    def digest(self, content: str, code: str) -> str:
        parts = {"format": FORMAT, "content": content, "code": code, "table": self.table,
                 "timezone": self.timezone, "linked": self.linked, "derived": self.derived,
                 "shown": self.shown, "profile": self.profile.model_dump(mode="json")}
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        return xxhash.xxh3_128(text.encode("utf-8")).hexdigest()


def _timestamp(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_timestamp(value: str | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


@dataclass(frozen=True)
class Pruned:
    """What :meth:`Cache.prune` removed."""

    entries: int
    bytes: int


class Cache:
    """A folder of entries, one per (file content, key, code version)."""

    def __init__(self, folder: Path, code: str | None = None) -> None:
        self.folder = Path(folder)
        self.code = code if code is not None else _code()
        self.hits = 0
        self.misses = 0

    def _entry(self, key: str) -> Path:
        return self.folder / "v1" / key[:2] / key

    def key(self, path: Path, key: Key) -> str:
        return key.digest(file_hash(path), self.code)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Held while an entry is checked and, on a miss, filled."""
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(entry) + ".lock"):
            yield

    def load(self, key: str, shown: str) -> Checked | None:
        """The entry of ``key``, or None when there is none or it is damaged."""
        entry = self._entry(key)
        try:
            manifest = json.loads((entry / "manifest.json").read_text("utf-8"))
            if manifest.get("format") != FORMAT or manifest.get("key") != key:
                return None
            frames = {}
            for part in _PARTS:
                info = manifest["parts"][part]
                data = (entry / f"{part}.parquet").read_bytes()
                if len(data) != info["bytes"] or xxhash.xxh3_128(data).hexdigest() != info[
                        "xxh3"]:
                    return None
                frames[part] = _frame(pq.read_table(pa.BufferReader(data)))
                if len(frames[part]) != info["rows"]:
                    return None
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None
        with contextlib.suppress(OSError):  # when it was last used (the folder's time)
            os.utime(entry)
        return Checked(
            table=manifest["table"], read=manifest["read"], columns=manifest["columns"],
            rows=frames["rows"], quarantine=frames["quarantine"],
            rejected=frames["rejected"], pending=frames["pending"],
            notes=[tuple(n) for n in manifest["notes"]],  # type: ignore[misc]
            seen=(_parse_timestamp(manifest["seen"][0]), _parse_timestamp(manifest["seen"][1])),
            shown=shown)

    def store(self, key: str, checked: Checked) -> None:
        """Write an entry: its Parquet files first, each renamed into place, the manifest last.

        The old manifest goes first, so an entry half rewritten is never taken
        for a whole one.
        """
        entry = self._entry(key)
        entry.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (entry / "manifest.json").unlink()
        parts = {}
        for part in _PARTS:
            frame: pd.DataFrame = getattr(checked, part)
            buffer = io.BytesIO()
            _parquet(pa.Table.from_pandas(frame, preserve_index=False), buffer)
            data = buffer.getvalue()
            _write(entry / f"{part}.parquet", data)
            parts[part] = {"rows": len(frame), "bytes": len(data),
                           "xxh3": xxhash.xxh3_128(data).hexdigest()}
        manifest = {"format": FORMAT, "key": key, "table": checked.table, "read": checked.read,
                    "columns": checked.columns, "notes": checked.notes,
                    "seen": [_timestamp(checked.seen[0]), _timestamp(checked.seen[1])],
                    "parts": parts}
        _write(entry / "manifest.json",
               json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))


    def prune(self, unused_days: float, now: float | None = None) -> Pruned:
        """Remove the entries no run has used for ``unused_days`` days.

        They belong to exports since replaced: a system that exports its whole
        history anew every month leaves one entry per file and month, and a cache
        left alone would fill the disk. An entry is used when it is filled or read:
        its folder's modification time (a fill that never finished ages the same
        way). An entry another process holds is left for the next time.
        """
        cutoff = (time.time() if now is None else now) - unused_days * 86400
        removed = freed = 0
        for entry in sorted((self.folder / "v1").glob("*/*")):
            try:
                if not entry.is_dir() or entry.stat().st_mtime >= cutoff:
                    continue
                with FileLock(str(entry) + ".lock", timeout=0):
                    size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
                    shutil.rmtree(entry)
            except (Timeout, OSError):
                continue
            removed += 1
            freed += size
        return Pruned(removed, freed)


def _frame(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()``, its dictionary-encoded columns made categorical here.

    Parquet gives a column back in batches that each carry the same dictionary, and
    pyarrow unifies them anyway: 0.35 s for each bills file of 800,000 units, most of a
    warm run's loading. Here equal dictionaries are taken as they are (others unified)
    and the categories are the dictionary's text, as ``concat_encoded`` keeps them.
    """
    coded = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    frame = table.drop_columns(coded).to_pandas() if coded else table.to_pandas()
    if coded and not len(frame.columns):
        frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for name in coded:
        column = table.column(name)
        chunks = column.chunks
        if any(not c.dictionary.equals(chunks[0].dictionary) for c in chunks[1:]):
            chunks = column.unify_dictionaries().chunks
        dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
        codes = pa.chunked_array([c.indices for c in chunks], type=column.type.index_type)
        frame[name] = pd.Categorical.from_codes(
            np.asarray(pc.fill_null(codes, -1)),
            dtype=pd.CategoricalDtype(pd.Index(pd.array(dictionary, dtype="str"))),
            validate=False)  # a dictionary's indices are within it
    return frame[table.column_names]


def _parquet(table: pa.Table, buffer: io.BytesIO) -> None:
    """``table`` as Parquet, written for a cache that is read back whole, soon.

    Only the dictionary columns (community, fee item, building...) are
    dictionary-encoded: on ids, Parquet tries a dictionary and falls back for each
    page. No column statistics, since no reader filters on them; LZ4, which reads
    back faster than the default Snappy. A fifth of the operator shape: every
    entry written in 2.9 s instead of 6.0, read in 1.0 s instead of 1.2.
    """
    coded = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    pq.write_table(table, buffer, compression="lz4", use_dictionary=coded or False,
                   write_statistics=False)


def _write(path: Path, data: bytes) -> None:
    """``data`` as ``path``, atomically: a temporary file beside it, then renamed.

    Not synced to disk: a file a crash leaves short or empty no longer matches
    the size and xxhash its manifest lists, so the entry is a miss and rebuilt
    (an entry is a cache, never the only copy); the sync cost 0.9 s of a cold run
    at a fifth of the operator shape.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def cache_folder(config_cache: bool, config_dir: Path) -> Path | None:
    """Where the cache lives, or None when it is off.

    ``YUEBAO_CACHE=off`` (what ``--no-cache`` sets) turns it off whatever the
    config says; ``YUEBAO_CACHE_DIR`` moves it.
    """
    if os.environ.get("YUEBAO_CACHE", "").strip().lower() in ("0", "off", "false", "no"):
        return None
    if not config_cache:
        return None
    override = os.environ.get("YUEBAO_CACHE_DIR", "").strip()
    return Path(override).expanduser() if override else config_dir
