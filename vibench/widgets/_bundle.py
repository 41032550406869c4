"""One self-contained ES module (and one stylesheet) from the board's part files.

The board's front end is written as small ES modules under ``static/board/`` that
import their siblings by relative path (``import { h } from "./dom.js";``), so that
``node --test`` can import the pure helpers directly. anywidget loads ``_esm`` from a
Blob URL, where relative imports do not resolve, so the widget ships one module:
:func:`bundle_js` concatenates the parts in dependency order (every sibling before the
modules that import it) and drops the sibling import lines. :func:`bundle_css` inlines
``@import "./part.css";`` lines the same way, in the order they are written.

Nothing is built ahead of time or checked in: the module is assembled from the part
files when ``vibench.widgets.board`` is imported (a few milliseconds), so it can never
be stale, and a wheel ships the parts as they are. Under ``ANYWIDGET_HMR=1`` the board
re-assembles it whenever a part changes (:mod:`vibench.widgets.board`).

The parts keep to a small subset of ES module syntax, checked here so that a mistake
fails loudly instead of producing a module that breaks in the browser:

- sibling imports are one line each, ``import { a, b } from "./name.js";`` (no
  ``as`` renames, no default or namespace imports, no other module specifiers);
- names declared at the top level of a part are unique across all parts (they share
  one scope once concatenated);
- only the entry part has an ``export default``; the other parts' ``export`` keywords
  are dropped (the one module exports what the entry exports).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["BundleError", "bundle_css", "bundle_js", "js_parts"]

_IMPORT = re.compile(r"^import\s*\{([^}]*)\}\s*from\s*[\"']\./([\w.-]+\.js)[\"'];?\s*$")
_ANY_IMPORT = re.compile(r"^\s*import\b")
_TOP_NAME = re.compile(r"^(?:export\s+)?(?:async\s+)?(?:function\*?|const|let|var|class)\s+(\w+)")
_CSS_IMPORT = re.compile(r"^@import\s+[\"']\./([\w.-]+\.css)[\"'];?\s*$")


class BundleError(ValueError):
    """A part file breaks the rules the bundler relies on (see the module docstring)."""


def _imports(path: Path) -> tuple[list[str], list[str]]:
    """The sibling files ``path`` imports, and its lines without those imports."""
    deps: list[str] = []
    body: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = _IMPORT.match(line)
        if m:
            if re.search(r"\bas\b", m.group(1)):
                raise BundleError(f"{path.name}:{n}: 'as' renames are not supported")
            deps.append(m.group(2))
            continue
        if _ANY_IMPORT.match(line):
            raise BundleError(
                f"{path.name}:{n}: only one-line sibling imports "
                f'(import {{ a }} from "./part.js";) can be bundled: {line.strip()}'
            )
        body.append(line)
    return deps, body


def js_parts(entry: Path) -> list[Path]:
    """The part files of the module ``entry``, in dependency order (``entry`` last)."""
    order: list[Path] = []
    visiting: list[Path] = []

    def visit(path: Path) -> None:
        if path in order:
            return
        if path in visiting:
            cycle = " -> ".join(p.name for p in [*visiting[visiting.index(path) :], path])
            raise BundleError(f"import cycle: {cycle}")
        if not path.is_file():
            raise BundleError(f"missing part file {path}")
        visiting.append(path)
        for dep in _imports(path)[0]:
            visit(path.parent / dep)
        visiting.pop()
        order.append(path)

    visit(entry)
    return order


def bundle_js(entry: Path) -> str:
    """One ES module: the parts ``entry`` imports (transitively), then ``entry`` itself.

    Raises
    ------
    BundleError
        An import the bundler cannot inline, an import cycle, a missing part, a
        top-level name declared in two parts, or an ``export default`` outside
        ``entry``.
    """
    parts = js_parts(entry)
    seen: dict[str, str] = {}
    chunks = [
        "// vibench board: one ES module assembled by vibench/widgets/_bundle.py from\n"
        f"// static/{entry.parent.name}/ ({', '.join(p.name for p in parts)}).\n"
        "// Edit the part files, not this text."
    ]
    for path in parts:
        body = _imports(path)[1]
        for n, line in enumerate(body, start=1):
            m = _TOP_NAME.match(line)
            if m:
                name = m.group(1)
                if name in seen and seen[name] != path.name:
                    raise BundleError(
                        f"top-level name {name!r} is declared in {seen[name]} and {path.name}"
                    )
                seen[name] = path.name
            if line.startswith("export default") and path != entry:
                raise BundleError(f"{path.name}:{n}: only {entry.name} may export default")
        if path != entry:  # the module exports what the entry exports, nothing more
            body = [line.removeprefix("export ") for line in body]
        chunks.append(f"// ---- {path.name}\n" + "\n".join(body).strip("\n"))
    return "\n\n".join(chunks) + "\n"


def bundle_css(entry: Path) -> str:
    """One stylesheet: ``entry`` with each ``@import "./part.css";`` line inlined."""
    out: list[str] = []
    for n, line in enumerate(entry.read_text(encoding="utf-8").splitlines(), start=1):
        m = _CSS_IMPORT.match(line)
        if m:
            part = entry.parent / m.group(1)
            if not part.is_file():
                raise BundleError(f"{entry.name}:{n}: missing part file {part}")
            out.append(f"/* ---- {part.name} */\n" + bundle_css(part).strip("\n"))
        elif line.startswith("@import"):
            raise BundleError(f'{entry.name}:{n}: only @import "./part.css"; lines are inlined')
        else:
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"
