"""The package's layout rules (docs/development.md, ../shared/DESIGN.md), checked on the source.

- No module of ``wsztune`` imports a module that imports it back, directly or around a longer
  loop: the static import graph, function-level imports included, has no cycle. Imports under
  ``if TYPE_CHECKING:`` are left out: they never run, they only name types for annotations.
- The sweep, the grid model and the codecs name no stack: no identifier or string in
  ``sweep.py``, ``grid.py`` or ``codecs/`` is a stack's name or alias (the stacks registry's).
  A codec is named by the library whose framing it reproduces (``go-gorilla``, ``bun``,
  ``netty``): codec names are library names, so the registry's codec names are allowed, alone
  or as the start of an identifier (``GO_CODER_DEFAULT_THRESHOLD`` is the go-coder framing's).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import wsztune
from wsztune.codecs import CODECS
from wsztune.stacks import STACKS

PACKAGE = Path(wsztune.__file__).resolve().parent

# Strings that name the library whose framing or calls a codec reproduces, not a stack: Bun's
# process.versions key for the uWebSockets it embeds (a bun run's metadata), and the node
# helper's call mode "ws" (zlib called asynchronously, as the ws library calls it).
LIBRARY_STRINGS = {("bun.py", "uwebsockets"), ("node.py", "ws")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _typing_only(tree: ast.Module) -> set[int]:
    """The nodes under ``if TYPE_CHECKING:``."""
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return nodes


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The wsztune modules ``name`` imports anywhere in its source (at run time)."""

    def known(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    tree = ast.parse(path.read_text())
    skipped = _typing_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names} - {None}  # type: ignore[arg-type]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                module = target if target in modules else known(base)
                if module is not None:
                    found.add(module)
    return found - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return components


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    loops = [
        " <-> ".join(component) + ": " + "; ".join(
            f"{member} imports {', '.join(sorted(graph[member] & set(component)))}"
            for member in component
        )
        for component in _cycles(graph)
    ]
    assert not loops, "import cycles:\n" + "\n".join(loops)


def test_the_cycle_finder_sees_a_loop_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _stack_names() -> set[str]:
    names = set(STACKS) | {alias for stack in STACKS.values() for alias in stack.aliases}
    return {name.lower() for name in names} - set(CODECS)


def _identifiers(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.lineno, node.name
        elif isinstance(node, ast.arg):
            yield node.lineno, node.arg
        elif isinstance(node, ast.alias):
            yield node.lineno, node.asname or node.name.rpartition(".")[2]


def _names_a_stack(identifier: str, stacks: set[str]) -> bool:
    """``CODER_DEFAULT`` names coder; ``GO_CODER_DEFAULT`` names the go-coder codec, not it."""
    words = identifier.lower().replace("_", "-")
    for codec in sorted(CODECS, key=len, reverse=True):
        words = re.sub(rf"(^|-){re.escape(codec)}(?=-|$)", "-", words)
    return any(word in stacks for word in words.split("-"))


def _stack_mentions(path: Path, stacks: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    where = path.relative_to(PACKAGE.parent)
    found = [
        f"{where}:{line}: {identifier}"
        for line, identifier in _identifiers(tree)
        if _names_a_stack(identifier, stacks)
    ]
    found += [
        f"{where}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.lower() in stacks
        and (path.name, node.value.lower()) not in LIBRARY_STRINGS
    ]
    return found


def test_the_sweep_the_grid_and_the_codecs_name_no_stack() -> None:
    stacks = _stack_names()
    assert {"uvicorn", "centrifugo", "gorilla", "coder", "ws", "socketio"} <= stacks
    files = [PACKAGE / "sweep.py", PACKAGE / "grid.py", *sorted((PACKAGE / "codecs").glob("*.py"))]
    mentions = [mention for path in files for mention in _stack_mentions(path, stacks)]
    assert not mentions, "stacks named outside stacks/:\n" + "\n".join(mentions)


def test_a_codec_name_is_not_a_stack_mention() -> None:
    stacks = {"gorilla", "coder", "uvicorn"}
    assert not _names_a_stack("GO_GORILLA", stacks)
    assert not _names_a_stack("GO_CODER_DEFAULT_THRESHOLD", stacks)
    assert _names_a_stack("CODER_DEFAULT_THRESHOLD", stacks)
    assert _names_a_stack("uvicorn_default", stacks)
