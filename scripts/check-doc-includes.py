#!/usr/bin/env python3
"""Fail when the book points at code that is not there.

The chapters pull their code from the crates with mdBook's
`{{#include path}}`, `{{#include path:anchor}}` and `{{#include path:A:B}}`.
If a file is renamed or an anchor deleted, mdBook would quietly render an
empty block; this check turns that drift into a CI failure. It also checks
that every chapter SUMMARY.md links to exists, and that every ANCHOR has a
matching ANCHOR_END.

The book includes Rust from the crates and Python from docs/python/, so it also checks that
an anchor is written as a comment of its file's language (`// ANCHOR:` in .rs, `# ANCHOR:` in
.py: a Python file with `// ANCHOR:` would not even parse), and that the fence around an
include names the included file's language (```rust for .rs, ```python for .py), so the
reader's highlighting and mdBook's Rust playground handling see the right code.

Usage: check-doc-includes.py [DOCS_DIR]   (default: docs)
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r"\{\{#(?:include|rustdoc_include)\s+([^}\s]+)\s*\}\}")
LINK = re.compile(r"\]\(([^)#\s]+\.md)\)")


# The comment that starts an anchor line, by file extension.
COMMENT = {".rs": "//", ".py": "#", ".toml": "#", ".sh": "#"}
# The fence language an include of that extension must sit in.
FENCE = {".rs": "rust", ".py": "python"}


def anchors(text):
    """Anchor names opened and closed in a source file."""
    opened = set(re.findall(r"ANCHOR:\s*([\w-]+)", text))
    closed = set(re.findall(r"ANCHOR_END:\s*([\w-]+)", text))
    return opened, closed


def misplaced_anchors(path, text):
    """Anchor lines that are not a comment of the file's language."""
    comment = COMMENT.get(path.suffix)
    if comment is None:
        return []
    bad = []
    for lineno, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(\S*)\s*ANCHOR(?:_END)?:", line)
        if m and m.group(1) != comment:
            bad.append(f"{path}:{lineno}: an anchor in a {path.suffix} file is written '{comment} ANCHOR: name'")
    return bad


def main():
    docs = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    src = docs / "src"
    errors = []
    checked = 0
    summary = src / "SUMMARY.md"
    if not summary.exists():
        errors.append(f"{summary}: missing")
    else:
        for target in LINK.findall(summary.read_text()):
            if not (src / target).exists():
                errors.append(f"{summary}: links to missing chapter {target}")
    included = set()
    for page in sorted(src.rglob("*.md")):
        fence = None  # the language of the open ``` block, or None outside one
        for lineno, line in enumerate(page.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("```"):
                fence = None if fence is not None else (stripped[3:].split(",")[0].strip() or "")
                continue
            for spec in INCLUDE.findall(line):
                checked += 1
                parts = spec.split(":")
                path = (page.parent / parts[0]).resolve()
                where = f"{page}:{lineno}"
                if not path.is_file():
                    errors.append(f"{where}: {{{{#include {spec}}}}} points at missing file {parts[0]}")
                    continue
                included.add(path)
                want = FENCE.get(path.suffix)
                if want and fence is not None and fence != want:
                    errors.append(f"{where}: {parts[0]} is included in a ```{fence} block, not ```{want}")
                if len(parts) == 2 and parts[1] and not parts[1].isdigit():
                    opened, closed = anchors(path.read_text())
                    name = parts[1]
                    if name not in opened:
                        errors.append(f"{where}: anchor '{name}' not found in {parts[0]}")
                    elif name not in closed:
                        errors.append(f"{where}: anchor '{name}' has no ANCHOR_END in {parts[0]}")
    for path in sorted(included):
        errors.extend(misplaced_anchors(path, path.read_text()))
    for e in errors:
        print(e)
    print(f"doc includes: {checked} checked, {len(errors)} broken")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
