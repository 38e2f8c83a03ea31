"""A user's clone has only the repository: no tracked file may point outside it.

Development material (spec, seed, real data) lives in a folder beside the
repository that a clone does not have; README links, examples, tests or CI that
read it would work for developers and break for everyone else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built from pieces, so this file does not match what it searches for: the folder beside the
# repository as a relative path, its spec, data and seed subfolders, and a path joined from a
# quoted folder name (pathlib's `/`).
_NAME = "sha" + "red"
OUTSIDE = re.compile(
    r"\.\./" + _NAME + r"\b"
    + r"|\b" + _NAME + r"/(?:spec|data|seed)\b"
    + r"|[\"']" + _NAME + r"[\"']\s*/"
)


def tracked_files() -> list[Path]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"],
                            capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.decode("utf-8").split("\0") if name]


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file (or one deleted but not yet committed)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def test_the_pattern_finds_what_it_should_and_nothing_else():
    assert OUTSIDE.search("../" + _NAME + "/spec/kpis.md")
    assert OUTSIDE.search("see " + _NAME + "/data/real/x.csv")
    assert OUTSIDE.search("`" + _NAME + "/seed/`")
    assert OUTSIDE.search('Path(__file__).parents[2] / "' + _NAME + '" / "data"')
    assert OUTSIDE.search("this machine is " + _NAME + ", timings vary") is None
    assert OUTSIDE.search("from docx." + _NAME + " import Pt") is None


def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert files, "git ls-files listed nothing"
    found = []
    for path in files:
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT).as_posix()}:{number}: {line.strip()}")
    assert not found, ("tracked files refer to development material outside the repository, "
                       "which a user's clone does not have:\n" + "\n".join(found))


def test_every_package_of_the_source_tree_is_installed():
    """pyproject lists the packages by hand (the folders map onto ``yuebao.*``): a package
    left out works in an editable install and is missing from a wheel."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    roots = {folder: name for name, folder in setup["package-dir"].items()}
    found = {".".join([roots[init.relative_to(ROOT).parts[0]],
                       *init.relative_to(ROOT).parts[1:-1]])
             for root in roots for init in (ROOT / root).rglob("__init__.py")}
    assert found - set(setup["packages"]) == set()
