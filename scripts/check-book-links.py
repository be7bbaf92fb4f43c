#!/usr/bin/env python3
"""Checks every internal link of the built book: `mdbook build docs`, then
`python3 scripts/check-book-links.py [docs/book]`.

An internal link is any href or src that is not a full URL (http:, https:, mailto:, ...).
Each must name a file inside the built book, and its #fragment, if any, an element id of
that page. mdBook gives every heading an id made from its text (lower case, spaces to
dashes, most punctuation dropped, `-1`, `-2`... for repeats), so a chapter that links to
`stage5-executor.md#is-block_on-an-executor` is broken as soon as that heading is reworded:
mdBook itself says nothing, and the reader lands at the top of the page.

Standard library only. Exit status 1 if anything is broken, with one line per broken link.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Pages whose links are not relative to their own folder: mdBook's 404 page sets
# <base href="/"> for a site served at its root, which a local build is not.
SKIPPED_PAGES = {"404.html"}


class Page(HTMLParser):
    """The ids a page defines and the links it makes (with the line each is on)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (line, url)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id",) + (("name",) if tag == "a" else ()):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ("href", "src"):
            url = attrs.get(name)
            if url is not None:
                self.links.append((self.getpos()[0], url))


def is_external(url):
    parts = urlsplit(url)
    return bool(parts.scheme) or url.startswith("//")


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/book").resolve()
    if not (root / "index.html").is_file():
        sys.exit(f"error: no built book in {root} (run `mdbook build docs` first)")

    pages = {}
    for path in sorted(root.rglob("*.html")):
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page

    broken = []
    checked = 0
    for path, page in pages.items():
        if path.name in SKIPPED_PAGES:
            continue
        for line, url in page.links:
            if is_external(url) or url.startswith("javascript:"):
                continue
            checked += 1
            parts = urlsplit(url)
            where = f"{path.relative_to(root)}:{line}: {url}"
            if parts.path:
                target = (path.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = path  # "#fragment": this page
            if root not in target.parents and target != root:
                broken.append(f"{where}: points outside the book")
                continue
            if not target.is_file():
                broken.append(f"{where}: no such file")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if fragment not in ids:
                    broken.append(f"{where}: no heading or element with id {fragment!r}")

    for line in broken:
        print(line)
    print(f"book links: {checked} internal links in {len(pages)} pages checked, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
