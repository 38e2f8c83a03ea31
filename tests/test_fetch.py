"""Exports pulled from where they live: real S3, SFTP and HTTP servers on loopback.

Each server holds a copy of the sample's exports. Read through its URLs they give
the same metrics as the local files; a second fetch downloads nothing (the
servers count the file reads they served); a changed file is downloaded again;
a bad row is named by its URL and line; a missing credential names the variable.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import SAMPLE_MONTH

from yuebao.cli import main
from yuebao.config import load_config
from yuebao.errors import UsageError
from yuebao.months import Month
from yuebao.tasks.fetch import Downloads, fetch_sources
from yuebao.tasks.ingest import ingest
from yuebao.tasks.metrics import metrics_task

SECRET = "s3cr3t-pa55-wörd"  # a credential that must never be printed or written
KEY_ID = "yuebao-test-key"
USER = "exports"
TABLES = ("tickets", "bills", "payments")


# --------------------------------------------------------------------------- servers


class _S3:
    """moto's S3 server on a free loopback port, counting the object reads it serves."""

    def __init__(self) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.reads: Counter[str] = Counter()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ, start_response):
            if environ["REQUEST_METHOD"] == "GET" and "list-type" not in environ.get(
                    "QUERY_STRING", "") and environ["PATH_INFO"].count("/") > 1:
                self.reads[unquote(environ["PATH_INFO"])] += 1
            return app(environ, start_response)

        self.server = make_server("127.0.0.1", 0, counting, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        assert ThreadedMotoServer  # the same server moto's own threaded wrapper starts

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)

    def upload(self, root: Path, bucket: str) -> None:
        client = self.client()
        client.create_bucket(Bucket=bucket)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                client.upload_file(str(path), bucket, path.relative_to(root).as_posix())

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


class _Sftp:
    """An asyncssh SFTP server on a free loopback port: password login, a chrooted folder."""

    def __init__(self, root: Path, folder: Path) -> None:
        import asyncssh

        self.root, self.reads = root, Counter()
        self.logins: list[str] = []
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        outer = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                outer.logins.append(username)
                return username == USER and password == SECRET

        class Files(asyncssh.SFTPServer):
            def __init__(self, chan):
                super().__init__(chan, chroot=str(root))

            def open(self, path, pflags, attrs):
                outer.reads[path.decode() if isinstance(path, bytes) else path] += 1
                return super().open(path, pflags, attrs)

        async def start():
            self.server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                                server_factory=Server, sftp_factory=Files)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        ready.wait(30)
        public = host_key.export_public_key("openssh").decode().split()[:2]
        self.known_hosts = folder / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(public)}\n")

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class _Http:
    """http.server on a free loopback port: basic auth, directory listings, counted GETs."""

    def __init__(self, root: Path, tls=None) -> None:
        outer = self
        self.reads: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        expected = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def _allowed(self) -> bool:
                if self.headers.get("Authorization") == expected:
                    return True
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="exports"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_GET(self):
                if self._allowed():
                    path = unquote(self.path)
                    if not path.endswith("/"):
                        outer.reads[path] += 1
                    if outer.failures[path] > 0:  # a server having a bad moment
                        outer.failures[path] -= 1
                        self.send_error(503)
                        return
                    super().do_GET()

            def do_HEAD(self):
                if self._allowed():
                    super().do_HEAD()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:  # https with a self-signed certificate
            self.server.socket = tls.server_context().wrap_socket(self.server.socket,
                                                                  server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --------------------------------------------------------------------------- set-up


class Remote:
    """One kind of server holding the sample's exports, and a config reading them from it."""

    def __init__(self, kind: str, sample, tmp_path: Path, tls=None) -> None:
        config_path, data = sample
        self.kind, self.local_config = kind, config_path
        self.exports = data.exports_dir
        self.served = tmp_path / "served"  # what the SFTP and HTTP servers serve
        shutil.copytree(self.exports, self.served / "exports")
        if kind == "s3":
            self.server = _S3()
            self.server.upload(self.served, "company-exports")
            self.base = "s3://company-exports/exports"
            storage = (f'[storage.oss]\nurl = "s3://company-exports/"\n'
                       f'endpoint_url = "{self.server.endpoint}"\nregion = "us-east-1"\n'
                       'addressing_style = "path"\nkey_env = "YUEBAO_TEST_S3_KEY"\n'
                       'secret_env = "YUEBAO_TEST_S3_SECRET"\n')
        elif kind == "sftp":
            self.server = _Sftp(self.served, tmp_path)
            self.base = f"sftp://{USER}@127.0.0.1:{self.server.port}/exports"
            storage = (f'[storage.erp]\nurl = "sftp://{USER}@127.0.0.1:{self.server.port}/"\n'
                       'password_env = "YUEBAO_TEST_SFTP_PASSWORD"\n'
                       f'known_hosts = "{self.server.known_hosts}"\n')
        else:
            self.server = _Http(self.served, tls)
            scheme = "https" if tls else "http"
            self.base = f"{scheme}://127.0.0.1:{self.server.port}/exports"
            storage = (f'[storage.portal]\nurl = "{scheme}://127.0.0.1:{self.server.port}/"\n'
                       f'user = "{USER}"\npassword_env = "YUEBAO_TEST_HTTP_PASSWORD"\n'
                       + (f'ca_file = "{tls.cert}"\n' if tls else ""))
        text = config_path.read_text("utf-8")
        for table, name in zip(TABLES, ("工单", "账单", "收款"), strict=True):
            text = re.sub(rf"^{table} = .*$", f'{table} = ["{self.base}/*/{name}.*"]', text,
                          count=1, flags=re.M)
        text = text.replace('output_dir = "out"', f'output_dir = "{tmp_path}/out"')
        text = text.replace('outbox_dir = "outbox"', f'outbox_dir = "{tmp_path}/outbox"')
        self.config_path = tmp_path / "remote.toml"
        self.config_path.write_text(text + "\n" + storage, "utf-8")

    @property
    def reads(self) -> int:
        return sum(self.server.reads.values())

    def replace(self, relative: str, data: bytes) -> None:
        """A new version of one export on the server."""
        if self.kind == "s3":
            self.server.client().put_object(Bucket="company-exports", Key=relative, Body=data)
            return
        path = self.served / relative
        path.write_bytes(data)
        later = path.stat().st_mtime + 5  # Last-Modified and SFTP times count whole seconds
        os.utime(path, (later, later))

    def url(self, relative: str) -> str:
        return f"{self.base}/{relative.removeprefix('exports/')}"


@pytest.fixture(params=["s3", "sftp", "http"])
def remote(request, sample, tmp_path, monkeypatch):
    for name in ("S3_KEY", "S3_SECRET", "SFTP_PASSWORD", "HTTP_PASSWORD"):
        monkeypatch.setenv(f"YUEBAO_TEST_{name}", KEY_ID if name == "S3_KEY" else SECRET)
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    tls = request.getfixturevalue("smtp_tls") if request.param == "https" else None
    server = Remote(request.param, sample, tmp_path, tls)
    try:
        yield server
    finally:
        server.server.stop()


def _figures(config_path: Path, fetched=None) -> tuple[dict, object]:
    """metrics.json of every scope of the sample month, and the ingested tables."""
    config = load_config(config_path)
    sources = fetched.exports if fetched is not None else {
        t: getattr(config.sources, t) for t in TABLES}
    data = ingest(sources, config.base_dir, config.timezone, config.sources.profile,
                  today=datetime.date(2025, 10, 2))
    documents = metrics_task.fn(data, config, Month.parse(SAMPLE_MONTH)).documents
    return json.loads(json.dumps(documents, default=str, sort_keys=True)), data


# --------------------------------------------------------------------------- tests


def test_remote_exports_give_the_local_figures_and_are_downloaded_once(remote, tmp_path,
                                                                        capfd):
    config = load_config(remote.config_path)
    downloads = Downloads(tmp_path / "cache")

    fetched = fetch_sources(config, downloads)
    first_reads = remote.reads

    files = sorted(p.relative_to(remote.exports.parent).as_posix()
                   for p in remote.exports.rglob("*") if p.is_file())
    assert len(files) == 12
    assert sorted(downloads.downloaded) == sorted(remote.url(f) for f in files)
    assert [e.shown for e in fetched.exports["tickets"]] == sorted(
        remote.url(f) for f in files if "工单" in f)
    assert first_reads >= 12
    remote_figures, remote_data = _figures(remote.config_path, fetched)
    local_figures, local_data = _figures(remote.local_config)
    assert remote_figures == local_figures
    assert set(remote_data.files["file"]) == {remote.url(f) for f in files}
    assert remote_data.files[["read", "used", "quarantined", "duplicate"]].sum().to_dict() \
        == local_data.files[["read", "used", "quarantined", "duplicate"]].sum().to_dict()

    # The next run (a new process: a new cache object on the same folder) downloads nothing.
    again = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert again.downloaded == [] and len(again.reused) == 12
    assert remote.reads == first_reads
    assert again.exports == fetched.exports

    # A changed export is downloaded again, and only that one.
    changed = "exports/松花苑/账单.csv"
    old = (remote.exports / "松花苑" / "账单.csv").read_bytes()
    remote.replace(changed, old + old.splitlines(keepends=True)[-1])
    third = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert third.downloaded == [remote.url(changed)]
    assert len(third.reused) == 11
    local = next(e.path for e in third.exports["bills"] if e.shown == remote.url(changed))
    assert local.read_bytes() == old + old.splitlines(keepends=True)[-1]

    # A damaged copy (cut short on disk) is not trusted: it is downloaded again.
    local.write_bytes(local.read_bytes()[:1000])
    fourth = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert fourth.downloaded == [remote.url(changed)]
    assert local.read_bytes() == old + old.splitlines(keepends=True)[-1]

    output = capfd.readouterr()
    assert SECRET not in output.out + output.err
    assert not any(SECRET.encode() in p.read_bytes()
                   for p in (tmp_path / "cache").rglob("*.json"))


def test_a_bad_row_is_named_by_its_url_and_line(remote, tmp_path):
    relative = "exports/松花苑/工单.csv"
    text = (remote.exports / "松花苑" / "工单.csv").read_bytes().decode("gb18030")
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace("2024年8月2日 9时55分5秒", "某日上午", 1)
    assert "某日上午" in lines[2]
    remote.replace(relative, "".join(lines).encode("gb18030"))

    fetched = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    _, data = _figures(remote.config_path, fetched)

    rejected = data.quarantine[data.quarantine["file"] == remote.url(relative)]
    assert ["3", "created_at"] in rejected[["line", "field"]].astype(str).values.tolist()
    assert not data.quarantine["file"].str.contains("downloads").any()


def test_a_missing_credential_names_the_variable(remote, tmp_path, monkeypatch, capsys):
    variable = {"s3": "YUEBAO_TEST_S3_SECRET", "sftp": "YUEBAO_TEST_SFTP_PASSWORD",
                "http": "YUEBAO_TEST_HTTP_PASSWORD"}[remote.kind]
    monkeypatch.delenv(variable)

    with pytest.raises(UsageError) as raised:
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))

    message = str(raised.value)
    assert variable in message and "is not set" in message
    assert SECRET not in message and "\n" not in message
    # The command says so before Prefect starts: exit status 2 and that one line.
    assert main(["run", "--config", str(remote.config_path), "--no-send"]) == 2
    assert capsys.readouterr().err.strip() == f"yuebao: {message}"
    assert remote.reads == 0


# moto's S3 server takes any signature unless IAM is set up: SFTP and HTTP only.
@pytest.mark.parametrize("remote", ["sftp", "http"], indirect=True)
def test_a_wrong_password_is_a_usage_error_without_the_password(remote, tmp_path, monkeypatch):
    variable = {"sftp": "YUEBAO_TEST_SFTP_PASSWORD",
                "http": "YUEBAO_TEST_HTTP_PASSWORD"}[remote.kind]
    monkeypatch.setenv(variable, "not-" + SECRET)

    with pytest.raises(UsageError) as raised:
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))

    assert SECRET not in str(raised.value) and "\n" not in str(raised.value)
    assert remote.reads == 0


@pytest.mark.parametrize("remote", ["https"], indirect=True)
def test_https_with_the_company_servers_own_certificate(remote, tmp_path):
    fetched = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert len(fetched.downloaded) == 12 and fetched.downloaded[0].startswith("https://")
    reads = remote.reads
    again = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert again.downloaded == [] and remote.reads == reads

    # Without the CA file the certificate is not trusted, and nothing is read.
    text = remote.config_path.read_text("utf-8")
    remote.config_path.write_text(re.sub(r"^ca_file = .*$", "", text, flags=re.M), "utf-8")
    with pytest.raises(UsageError, match="certificate verify failed"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache2"))
    assert remote.reads == reads


@pytest.mark.parametrize("remote", ["http"], indirect=True)
def test_transient_errors_are_retried_and_a_missing_file_is_not(remote, tmp_path):
    with remote.config_path.open("a", encoding="utf-8") as file:  # into [storage.portal]
        file.write("retry_attempts = 3\nretry_initial_seconds = 0.05\n")
    target = "/exports/松花苑/账单.csv"
    remote.server.failures[target] = 2

    fetched = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))

    assert remote.server.reads[target] == 3  # two 503 replies, then the file
    assert len(fetched.downloaded) == 12
    local = next(e.path for e in fetched.exports["bills"] if e.shown.endswith("松花苑/账单.csv"))
    assert local.read_bytes() == (remote.exports / "松花苑" / "账单.csv").read_bytes()

    # Failing more often than retry_attempts: the run fails naming the URL, and the
    # entry keeps the last good copy.
    remote.replace(target.lstrip("/"), local.read_bytes() + b"\n")
    remote.server.failures[target] = 3
    with pytest.raises(OSError, match=r"松花苑/账单\.csv.*503.*gave up"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert remote.server.reads[target] == 6
    assert local.read_bytes() == (remote.exports / "松花苑" / "账单.csv").read_bytes()

    # A file that is not there is a usage error at once: asking again would not help.
    text = remote.config_path.read_text("utf-8")
    remote.config_path.write_text(text.replace("/*/账单.*", "/松花苑/没有这个文件.csv"), "utf-8")
    with pytest.raises(UsageError, match=r"没有这个文件\.csv: no such file on the server"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    # fsspec asks by HEAD, then once by GET; no retry asks again.
    assert remote.server.reads["/exports/松花苑/没有这个文件.csv"] <= 1


@pytest.mark.parametrize("remote", ["sftp"], indirect=True)
def test_an_sftp_server_with_an_unknown_host_key_gets_no_password(remote, tmp_path):
    import asyncssh

    known = remote.server.known_hosts
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    known.write_text(f"[127.0.0.1]:{remote.server.port} {' '.join(other.split()[:2])}\n")
    with pytest.raises(UsageError, match="showed a host key that is not the one in"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    known.write_text("")
    with pytest.raises(UsageError, match=r"the host key of the SFTP server .* is not known"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))
    assert remote.server.logins == [] and remote.reads == 0


@pytest.mark.parametrize("remote", ["sftp"], indirect=True)
def test_a_password_from_a_prefect_secret_block(remote, prefect_server, tmp_path, monkeypatch):
    from prefect.blocks.system import Secret

    Secret(value=SECRET).save("yuebao-test-sftp-password", overwrite=True)
    monkeypatch.delenv("YUEBAO_TEST_SFTP_PASSWORD")
    text = remote.config_path.read_text("utf-8").replace(
        'password_env = "YUEBAO_TEST_SFTP_PASSWORD"',
        'password_block = "yuebao-test-sftp-password"')
    remote.config_path.write_text(text, "utf-8")

    fetched = fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache"))

    assert len(fetched.downloaded) == 12 and remote.server.logins[-1] == USER
    text = text.replace("yuebao-test-sftp-password", "no-such-block")
    remote.config_path.write_text(text, "utf-8")
    with pytest.raises(UsageError, match=r"storage\.erp\.password_block: cannot load the "
                                         "Prefect Secret block 'no-such-block'"):
        fetch_sources(load_config(remote.config_path), Downloads(tmp_path / "cache2"))


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_the_flows_pull_the_exports_and_reports_name_their_urls(remote, prefect_server,
                                                                 tmp_path, capfd):
    import pandas as pd

    from yuebao.flows.monthly_review import monthly_review, validate_exports

    monthly_review(str(remote.config_path), SAMPLE_MONTH, send=False)

    month_dir = tmp_path / "out" / SAMPLE_MONTH
    files = sorted(p.relative_to(remote.exports.parent).as_posix()
                   for p in remote.exports.rglob("*") if p.is_file())
    quality = json.loads((month_dir / "data_quality.json").read_text("utf-8"))
    assert sorted(f["file"] for f in quality["files"]) == sorted(remote.url(f) for f in files)
    local_figures, _ = _figures(remote.local_config)
    for scope, document in local_figures.items():
        written = json.loads((month_dir / scope / "metrics.json").read_text("utf-8"))
        assert written["tickets"] == document["tickets"]
        assert written["fees"] == document["fees"]
    reads = remote.reads

    # A bad row in one export: validate downloads that file only, and names its URL and line.
    relative = "exports/松花苑/工单.csv"
    lines = (remote.exports / "松花苑" / "工单.csv").read_bytes().decode(
        "gb18030").splitlines(keepends=True)
    lines[2] = lines[2].replace("2024年8月2日 9时55分5秒", "某日上午", 1)
    remote.replace(relative, "".join(lines).encode("gb18030"))
    report = validate_exports(str(remote.config_path))

    assert remote.reads == reads + 1
    assert remote.url(relative) in report
    quarantine = pd.read_csv(tmp_path / "out" / "validate" / "quarantine.csv", dtype=str)
    named = quarantine[(quarantine["file"] == remote.url(relative))
                       & (quarantine["line"] == "3")]
    assert named["field"].tolist() == ["created_at"]
    output = capfd.readouterr()
    assert SECRET not in output.out + output.err + report
    assert not any(SECRET in p.read_text("utf-8", errors="replace")
                   for p in (tmp_path / "out").rglob("*") if p.is_file()
                   and p.suffix in (".json", ".csv", ".md", ".html"))
