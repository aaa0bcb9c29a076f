"""The documentation: the MkDocs site builds strictly, the README is a front page linking every
page, and every page is in the site's navigation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
    flattened = []
    for page in doc_pages():
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"
        flattened += [f"{page.name}: {text[:70]!r}" for text in lists_in_paragraphs(built)]
    # A list written without a blank line before it renders as one run-on paragraph on the
    # site (Python-Markdown), though it reads as a list on GitHub (issue 26).
    assert flattened == [], "lists rendered as paragraphs (add a blank line before the list):\n" + (
        "\n".join(flattened)
    )


def lists_in_paragraphs(html_file: Path) -> list[str]:
    """The paragraphs of a built page that hold a markdown list item on a line of their own."""
    from html.parser import HTMLParser

    class Paragraphs(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth, self.texts, self.current = 0, [], []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag == "p":
                self.depth += 1
                self.current = []

        def handle_endtag(self, tag: str) -> None:
            if tag == "p" and self.depth:
                self.depth -= 1
                self.texts.append("".join(self.current))

        def handle_data(self, data: str) -> None:
            if self.depth:
                self.current.append(data)

    parser = Paragraphs()
    parser.feed(html_file.read_text(encoding="utf-8"))
    item = re.compile(r"\n\s*(?:[-*+]|\d+\.)\s+\S")
    return [text for text in parser.texts if item.search(text)]


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


def _complete(words: str, cword: int) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "wsztune"],
        env={
            **os.environ,
            "_WSZTUNE_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]


def test_shell_completion_works_as_documented() -> None:
    """docs/index.md's completion lines: click's completion, under wsztune's variable name."""
    page = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "_WSZTUNE_COMPLETE=bash_source wsztune" in page
    source = subprocess.run(
        [sys.executable, "-m", "wsztune"],
        env={**os.environ, "_WSZTUNE_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "complete -o nosort -F _wsztune_completion wsztune" in source.stdout
    assert _complete("wsztune rec", 1) == ["recommend", "record"]
    assert "savings" in _complete("wsztune table --metric ", 3)
