"""The export styles and the files they write.

A sink takes one community's tickets, bills and payments at a time and writes
them: ``_CanonicalSink`` appends to three canonical CSV files, streaming through
pyarrow; ``_ZhSink`` writes each community's own folder as its system would
(CSV in its encoding, or an Excel workbook with fixed timestamps so that the
bytes are reproducible). Keeping the writing here leaves every other module
free of file formats.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from yuebao.schema import TABLES
from yuebao.tasks.sample_data.common import _EXTRAS, _rng
from yuebao.tasks.sample_data.communities import _Community
from yuebao.tasks.sample_data.fees import _bill_table, _Bills, _payment_table, _Payments
from yuebao.tasks.sample_data.public import BILL_COLUMNS, PAYMENT_COLUMNS, TICKET_COLUMNS
from yuebao.tasks.sample_data.systems import (
    _SYSTEMS,
    _System,
    _zh_bill_fields,
    _zh_payment_fields,
    _zh_ticket_fields,
)
from yuebao.tasks.sample_data.tickets import _ticket_table, _Tickets

STYLES = ("canonical", "zh-generic")
_FILE_NAMES = {"tickets": "工单", "bills": "账单", "payments": "收款"}
_ZH_PATTERNS = {table: [f"exports/*/{name}.*"] for table, name in _FILE_NAMES.items()}
_ZH_SUFFIXES = (".csv", ".xlsx")


class _CsvOut:
    """One CSV file written community by community, with an unquoted header row."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path, self.columns, self.rows = path, columns, 0
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write((",".join(columns) + "\n").encode())
        schema = pa.schema([(c, pa.string()) for c in columns])
        # quoting "none" makes pyarrow refuse a comma, quote or newline in a value.
        self._writer = pacsv.CSVWriter(self._sink, schema, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style="none"))

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(list(self.columns)))
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def _write_csv_export(path: Path, system: _System, headers: list[str],
                      columns: list[pa.Array]) -> None:
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=headers), buffer, write_options=pacsv.WriteOptions(
        include_header=False, quoting_style="needed" if system.quote_all else "none"))
    data = (",".join(headers) + "\n").encode() + buffer.getvalue()
    if system.crlf:
        data = data.replace(b"\n", b"\r\n")  # no value holds a line break
    if system.encoding == "gbk":
        data = data.decode("utf-8").encode("gbk")
    elif system.encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)


def _write_xlsx_export(path: Path, sheet: str, headers: list[str], columns: list,
                       saved: datetime) -> None:
    """One sheet, written row by row in openpyxl's streaming mode, with real date cells.

    openpyxl stamps the workbook's modified time and every zip entry with the
    current time; both are set to ``saved`` (the export moment, UTC) so that the
    same arguments give the same bytes.
    """
    from openpyxl import Workbook
    from openpyxl.xml.functions import tostring

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(headers)
    rows = [c.to_pylist() if isinstance(c, pa.Array) else c for c in columns]
    for row in zip(*rows, strict=True):
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    workbook.properties.created = workbook.properties.modified = saved
    core = tostring(workbook.properties.to_tree())
    with zipfile.ZipFile(buffer) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=saved.timetuple()[:6])
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            target.writestr(entry, core if info.filename == "docProps/core.xml"
                            else source.read(info.filename))


class _ZhSink:
    """Each community's exports in its own folder, as its system writes them."""

    profile = "zh-generic"

    def __init__(self, exports: Path, seed: int, saved: datetime) -> None:
        self.exports, self.seed, self.saved = exports, seed, saved
        self.rows = dict.fromkeys(TABLES, 0)
        self.paths: dict[str, list[Path]] = {table: [] for table in TABLES}

    def write(self, comm: _Community, code: str, tickets: _Tickets, bills: _Bills,
              payments: _Payments, unknown: int | None) -> None:
        system = _SYSTEMS[comm.index % len(_SYSTEMS)]
        rng = _rng(self.seed, comm.index, _EXTRAS)
        first_bill = self.rows["bills"] + 1
        fields = {
            "tickets": _zh_ticket_fields(tickets, comm, code, system, rng),
            "bills": _zh_bill_fields(bills, comm, first_bill, system),
            "payments": _zh_payment_fields(payments, bills, comm, first_bill,
                                           self.rows["payments"] + 1, unknown, system, rng),
        }
        folder = self.exports / comm.public.name
        folder.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            layout = getattr(system, table)
            headers = [header for _, header in layout]
            columns = [fields[table][name] for name, _ in layout]
            path = folder / f"{_FILE_NAMES[table]}{system.suffix}"
            if system.excel:
                _write_xlsx_export(path, _FILE_NAMES[table], headers, columns, self.saved)
            else:
                _write_csv_export(path, system, headers, columns)
            self.rows[table] += len(tickets.created) if table == "tickets" else \
                len(bills.due) if table == "bills" else len(payments.paid)
            self.paths[table].append(path)

    def close(self) -> None:
        pass

    def prune(self) -> None:
        """Remove exports an earlier, larger run left here: the config's globs would read them."""
        written = {path for paths in self.paths.values() for path in paths}
        for name in _FILE_NAMES.values():
            for suffix in _ZH_SUFFIXES:
                for path in self.exports.glob(f"*/{name}{suffix}"):
                    if path not in written:
                        path.unlink()
                        with contextlib.suppress(OSError):
                            path.parent.rmdir()  # only when now empty

    def result(self) -> tuple[dict[str, list[Path]], dict[str, list[str]]]:
        return self.paths, {table: list(p) for table, p in _ZH_PATTERNS.items()}


class _CanonicalSink:
    """One CSV file per table for all communities, in the canonical profile."""

    profile = "canonical"

    def __init__(self, exports: Path) -> None:
        self.exports = exports
        self.outs = {"tickets": _CsvOut(exports / "tickets.csv", TICKET_COLUMNS),
                     "bills": _CsvOut(exports / "bills.csv", BILL_COLUMNS),
                     "payments": _CsvOut(exports / "payments.csv", PAYMENT_COLUMNS)}

    @property
    def rows(self) -> dict[str, int]:
        return {name: out.rows for name, out in self.outs.items()}

    def write(self, comm: _Community, code: str, tickets: _Tickets, bills: _Bills,
              payments: _Payments, unknown: int | None) -> None:
        first_bill = self.outs["bills"].rows + 1
        self.outs["tickets"].write(_ticket_table(tickets, comm, code))
        self.outs["bills"].write(_bill_table(bills, comm, first_bill))
        self.outs["payments"].write(_payment_table(payments, first_bill,
                                                   self.outs["payments"].rows + 1, unknown))

    def close(self) -> None:
        for out in self.outs.values():
            out.close()

    def result(self) -> tuple[dict[str, Path], dict[str, list[str]]]:
        return ({name: out.path for name, out in self.outs.items()},
                {name: [f"exports/{out.path.name}"] for name, out in self.outs.items()})
