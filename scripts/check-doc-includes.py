#!/usr/bin/env python3
"""Fail when the book points at code that is not there.

The chapters pull their code from the crates with mdBook's
`{{#include path}}`, `{{#include path:anchor}}` and `{{#include path:A:B}}`.
If a file is renamed or an anchor deleted, mdBook would quietly render an
empty block; this check turns that drift into a CI failure. It also checks
that every chapter SUMMARY.md links to exists, and that every ANCHOR has a
matching ANCHOR_END.

Usage: check-doc-includes.py [DOCS_DIR]   (default: docs)
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r"\{\{#(?:include|rustdoc_include)\s+([^}\s]+)\s*\}\}")
LINK = re.compile(r"\]\(([^)#\s]+\.md)\)")


def anchors(text):
    """Anchor names opened and closed in a source file."""
    opened = set(re.findall(r"ANCHOR:\s*([\w-]+)", text))
    closed = set(re.findall(r"ANCHOR_END:\s*([\w-]+)", text))
    return opened, closed


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
    for page in sorted(src.rglob("*.md")):
        for lineno, line in enumerate(page.read_text().splitlines(), 1):
            for spec in INCLUDE.findall(line):
                checked += 1
                parts = spec.split(":")
                path = (page.parent / parts[0]).resolve()
                where = f"{page}:{lineno}"
                if not path.is_file():
                    errors.append(f"{where}: {{{{#include {spec}}}}} points at missing file {parts[0]}")
                    continue
                if len(parts) == 2 and parts[1] and not parts[1].isdigit():
                    opened, closed = anchors(path.read_text())
                    name = parts[1]
                    if name not in opened:
                        errors.append(f"{where}: anchor '{name}' not found in {parts[0]}")
                    elif name not in closed:
                        errors.append(f"{where}: anchor '{name}' has no ANCHOR_END in {parts[0]}")
    for e in errors:
        print(e)
    print(f"doc includes: {checked} checked, {len(errors)} broken")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
