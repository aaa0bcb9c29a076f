"""Every `wsztune ...` command the docs show exists, with the options it shows; cheap ones run.

The commands are read from README.md and every docs/*.md page: lines of ```sh / ```console /
```yaml blocks and plain ``` blocks (usage synopses), and inline code spans. Each is resolved to
its click command, and every option it names must be one of that command's real options. Those
that only read a saved run or a bundled corpus are run for real, against the committed example
run, and must not end in a usage error or a traceback. A failure names the page and the line.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from wsztune.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE_RUN = ROOT / "results" / "example-demo.json"

# Shell words that end the wsztune command on a line.
STOP = {"|", "||", "&&", ";", ">", ">>", "2>&1", "<", "&"}
# Commands cheap enough to run for real: they read a saved run or a small bundled corpus.
RUNNABLE = {("table",), ("recommend",), ("plot",), ("report",), ("compare",), ("corpus", "stats")}


@dataclass(frozen=True)
class Example:
    """One command shown in the docs, and where."""

    page: str
    line: int
    text: str  # from "wsztune" to the end of the command
    inline: bool = False  # a `code span` in prose: a mention, checked but never run

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}: `{self.text}`"


def _words(text: str) -> list[str]:
    try:
        words = shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote in a synopsis: fall back to plain words
        words = text.split()
    out = []
    for word in words:
        if word in STOP or word.startswith((">", "2>")):
            break
        out.append(word)
    return out


def examples() -> list[Example]:
    """Every wsztune command line in the docs."""
    found: list[Example] = []
    for page in PAGES:
        name = page.relative_to(ROOT).as_posix()
        fence: str | None = None
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#") and fence is not None:
                continue  # a comment in a block (or a heading outside one: no command)
            if stripped.startswith("```"):
                fence = None if fence is not None else (stripped[3:].strip() or "plain")
                continue
            candidates: list[str] = []
            if fence is None:
                candidates = [
                    span for span in re.findall(r"`([^`]+)`", line) if span.startswith("wsztune ")
                ]
            elif fence in ("sh", "bash", "shell", "console", "plain", "yaml", "yml"):
                text = stripped
                if fence == "console":
                    if not text.startswith("$ "):
                        continue  # output, not a command
                    text = text[2:]
                if fence in ("yaml", "yml"):
                    text = re.sub(r"^(-\s*)?run:\s*\|?\s*", "", text)
                text = re.sub(r"\s#.*$", "", text)  # a trailing comment
                # `wsztune ...`, maybe after environment assignments (`WSZTUNE_CACHE=x wsztune`)
                for part in re.split(r"&&|\|\||;|\|", text):
                    match = re.match(
                        r"(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(wsztune(?:\s.*)?)$", part.strip()
                    )
                    if match:
                        candidates.append(match.group(1))
            for text in candidates:
                found.append(Example(name, number, text.strip(), inline=fence is None))
    return found


def resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """The click command the words name, its path, and the words after it."""
    command: click.Command = cli
    path: list[str] = []
    rest = words[1:]
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            break
        command, path, rest = sub, [*path, rest[0]], rest[1:]
    return command, path, rest


def option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def problems(example: Example) -> list[str]:
    """What is wrong with one example: an unknown command or option."""
    words = _words(example.text)
    if not words or words[0] != "wsztune":
        return []
    command, path, rest = resolve(words)
    if rest[:1] in (["..."], ["…"]):
        return []  # "every `wsztune ...` command": prose about commands, not one
    if isinstance(command, click.Group):
        if rest and not rest[0].startswith("-"):
            return [f"{example.where}: `wsztune {' '.join(path)}` has no command {rest[0]!r}"]
        if not rest and path:
            return [f"{example.where}: `wsztune {' '.join(path)}` needs a command"]
    known = option_names(command)
    wrong = []
    for word in rest:
        token = word.strip("[]().,…").split("=", 1)[0]
        if not token.startswith("-") or token == "-" or re.fullmatch(r"-[\d.]+.*", token):
            continue
        if token.endswith("*"):  # a family, like --price-*
            if not any(name.startswith(token[:-1]) for name in known):
                wrong.append(token)
            continue
        if token not in known:
            wrong.append(token)
    return [
        f"{example.where}: `wsztune {' '.join(path)}` has no option {token} "
        f"(it has: {', '.join(sorted(n for n in known if n.startswith('--')))})"
        for token in wrong
    ]


ALL = examples()


def test_the_docs_show_commands() -> None:
    """The parser finds the examples (a parser that finds nothing would check nothing)."""
    pages = {example.page for example in ALL}
    assert len(ALL) > 100 and {"README.md", "docs/reading.md", "docs/ci.md"} <= pages


def test_every_command_and_option_shown_exists() -> None:
    found = [problem for example in ALL for problem in problems(example)]
    assert found == [], "\n".join(["docs show commands or options that do not exist:", *found])


def _runnable(example: Example, cwd: Path) -> list[str] | None:
    """The arguments to run ``example`` with, when it is cheap and its files exist."""
    words = _words(example.text)
    if example.inline or not words or words[0] != "wsztune":
        return None
    if any(re.fullmatch(r"[A-Z][A-Z_]+", word) for word in words):
        return None  # a placeholder (FILE, OLD NEW): a synopsis, not a command to run
    command, path, rest = resolve(words)
    if tuple(path) not in RUNNABLE or any("..." in w or "[" in w or "|" in w for w in rest):
        return None
    if isinstance(command, click.Group):
        return None
    for word in rest:
        looks_like_file = "/" in word or word.endswith((".json", ".jsonl", ".har", ".txt"))
        if looks_like_file and not word.startswith("-") and not (cwd / word).exists():
            return None  # a file of the reader's own
    return rest if path == [] else [*path, *rest]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory like a user's: results/ holds the example run, corpora/ the bundled ones."""
    cwd = tmp_path_factory.mktemp("docs-examples")
    (cwd / "results").mkdir()
    shutil.copy(EXAMPLE_RUN, cwd / "results" / "ci.json")
    (cwd / "corpora").symlink_to(ROOT / "corpora")
    return cwd


def test_cheap_examples_run(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    runner = CliRunner()
    ran, failed = 0, []
    seen: set[tuple[str, ...]] = set()
    for example in ALL:
        args = _runnable(example, workdir)
        if args is None or tuple(args) in seen:
            continue
        seen.add(tuple(args))
        if args[:1] == ["plot"] or args[:1] == ["report"]:
            args = [*args, "--output" if args[0] == "plot" else "-o", str(workdir / "out")]
            if args[0] == "report":
                args[-1] = str(workdir / "out.html")
                args.append("--no-charts")
        result = runner.invoke(cli, args)
        ran += 1
        if (
            result.exit_code not in (0, 1)
            or result.exception
            and not isinstance(result.exception, SystemExit)
        ):
            failed.append(
                f"{example.where}: exit {result.exit_code}: "
                f"{(result.output or repr(result.exception)).strip().splitlines()[-1:]}"
            )
    assert failed == [], "\n".join(["docs examples that fail when run:", *failed])
    assert ran >= 10


def test_a_wrong_example_is_named_by_page_and_line() -> None:
    (message,) = problems(Example("docs/x.md", 7, "wsztune table --no-such-option"))
    assert message.startswith("docs/x.md:7: `wsztune table --no-such-option`")
    assert "has no option --no-such-option" in message
    (message,) = problems(Example("README.md", 3, "wsztune corpus nope x.jsonl"))
    assert "README.md:3:" in message and "no command 'nope'" in message
    assert problems(Example("a.md", 1, "wsztune recommend --price-* --level -1 [--json]")) == []
