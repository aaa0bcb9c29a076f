"""The documentation: the MkDocs site builds strictly, the README is a front page linking every
page, and every page is in the site's navigation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_LIMIT = 22_000  # "at most about 20 KB": the front page, not the reference


def doc_pages() -> list[Path]:
    """Every markdown page of the docs site."""
    return sorted(DOCS.glob("*.md"))


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """`mkdocs build --strict` fails on any warning: a broken link, anchor or nav entry."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").is_file()
    for page in doc_pages():
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"


def test_readme_is_a_front_page_linking_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    size = len(readme.encode())
    assert size <= README_LIMIT, (
        f"README.md is {size:,} bytes (limit {README_LIMIT:,}): reference material goes "
        "into a docs/ page, the README keeps a short paragraph and a link"
    )
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", readme))
    missing = [page.name for page in doc_pages() if page.name not in linked]
    assert missing == [], (
        f"README.md does not link docs page(s) {missing}: add each to its 'Documentation' list"
    )


def test_every_docs_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = set(re.findall(r"^\s*- [^:\n]+: ([\w-]+\.md)\s*$", config, flags=re.MULTILINE))
    missing = [page.name for page in doc_pages() if page.name not in nav]
    assert missing == [], f"docs page(s) {missing} are not in mkdocs.yml's nav: add them there"


def test_readme_keeps_the_two_quick_start_commands() -> None:
    """.ci/run runs the test command word for word; the first one is the whole install."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install . && wsztune run" in readme
    assert (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest -q"
        in readme
    )
