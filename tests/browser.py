"""Headless Chromium for the email view tests: find or install it, screenshot a page,
and ask DevTools which fonts drew the page's Chinese text.

Debian's ``chromium`` package, run with a fresh profile per call and everything that
would go to the network switched off. The fonts come from the DevTools protocol
(``CSS.getPlatformFontsForNode``) over ``--remote-debugging-port``, spoken with the
``websockets`` package (a dependency of Prefect).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")
WINDOW = "--window-size=800,2400"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Families that have Chinese glyphs, when a machine has one installed.
CJK_FAMILIES = re.compile(r"CJK|\bSC\b|\bTC\b|Hei|Song|Kai|Ming|WenQuanYi|PingFang|YaHei|"
                          r"Droid Sans Fallback|AR PL|Source Han|Han Sans|Han Serif", re.I)


def find_chromium() -> tuple[str | None, str]:
    """Chromium's path, installing Debian's package when running as root; else why not."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed (apt-get install chromium as root)"
    try:
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True,
                       capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as error:
        return None, f"chromium is not installed and apt-get could not install it: {error}"
    return (CHROMIUM, "") if Path(CHROMIUM).is_file() else (None, "apt-get left no chromium")


def system_cjk_fonts() -> list[str]:
    """The machine's fonts that cover Chinese (``fc-list :lang=zh``)."""
    if not shutil.which("fc-list"):
        return []
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                         check=False).stdout
    return [line for line in out.splitlines() if line.strip()]


def screenshot(chromium: str, page: Path, png: Path, profile: Path) -> Path:
    """``chromium --headless --screenshot``: the page at 800 × 2400 px as a PNG."""
    subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                    WINDOW, page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
    return png


class _DevTools:
    """One page's DevTools connection: commands by id, events skipped."""

    def __init__(self, url: str) -> None:
        self._socket = connect(url, max_size=None, open_timeout=30)
        self._id = 0

    def __call__(self, method: str, **params) -> dict:
        self._id += 1
        self._socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def close(self) -> None:
        self._socket.close()


def _page_socket(profile: Path, process: subprocess.Popen) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not port_file.is_file() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [t for t in json.load(reply) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        if time.monotonic() > deadline:
            raise RuntimeError("chromium opened no page")
        time.sleep(0.1)


def _text_elements(node: dict):
    """(nodeId, own text) of every element whose own text nodes hold Chinese characters."""
    children = node.get("children", [])
    own = "".join(c.get("nodeValue", "") for c in children if c.get("nodeType") == 3)
    if node.get("nodeType") == 1 and node.get("nodeName") not in ("STYLE", "TITLE", "HEAD") \
            and CJK.search(own):
        yield node["nodeId"], own
    for child in children:
        yield from _text_elements(child)


def cjk_fonts(chromium: str, page: Path, profile: Path) -> list[tuple[str, list[dict]]]:
    """For each element with Chinese text: its text and the platform fonts that drew it.

    Each font is DevTools' ``PlatformFontUsage``: ``familyName``, ``postScriptName``,
    ``isCustomFont`` (a web font, here the embedded one) and ``glyphCount``.
    """
    process = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "--remote-allow-origins=*",
                                WINDOW, page.resolve().as_uri()],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tools = _DevTools(_page_socket(profile, process))
        try:
            # Until the page itself (not the about:blank before it) has loaded.
            ready = f"location.href === {json.dumps(page.resolve().as_uri())} && " \
                    "document.readyState === 'complete'"
            for _ in range(600):
                if tools("Runtime.evaluate", expression=ready)["result"]["value"]:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"chromium did not load {page}")
            tools("Runtime.evaluate", expression="document.fonts.ready.then(() => 1)",
                  awaitPromise=True)
            tools("DOM.enable")
            tools("CSS.enable")
            root = tools("DOM.getDocument", depth=-1)["root"]
            return [(text, tools("CSS.getPlatformFontsForNode", nodeId=node)["fonts"])
                    for node, text in _text_elements(root)]
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def without_glyphs(used: list[tuple[str, list[dict]]]) -> list[tuple[str, str]]:
    """(text, font) where Chinese text was drawn by a font that has no Chinese glyphs:
    neither the page's embedded font nor a system CJK font, so its characters are boxes."""
    return [(text, font["familyName"]) for text, fonts in used for font in fonts
            if not font.get("isCustomFont") and not CJK_FAMILIES.search(font["familyName"])]
