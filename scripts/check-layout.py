#!/usr/bin/env python3
"""The reading path's two rules, checked: files depend one way, and no file is too long to read.

1. No import cycle between the files of a crate. There is an edge from file A to file B when A
   names an item through `crate::m::...`, `super::m::...` or `self::m::...` (a `use` group
   such as `use crate::{a::X, b::Y}` counts for each member) and m is B's module. Naming a
   re-export in `lib.rs` (`crate::X`) is an edge to `lib.rs`, so routing a name through a
   `pub use` there does not hide a cycle: `lib.rs` depends on the module it re-exports from.
   A `use child::X` in `lib.rs` or a `mod.rs` is an edge to the child's file too. `mod x;`
   declarations and comments are not edges. Binaries (`src/bin/`) are crates of their
   own and cannot take part in a cycle.
2. No `.rs` file under any `stage*/src` is over MAX_LINES lines.

Usage: scripts/check-layout.py [ROOT]      (exit 1 and one line per problem when a rule fails)
"""

import re
import sys
from pathlib import Path

MAX_LINES = 800

MOD_DECL = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
INLINE_MOD = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{")
PATH_START = re.compile(r"\b(crate|super|self)\s*::")
# `use child::X;` in lib.rs or a mod.rs: a path relative to the current module.
USE_RELATIVE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+(\w+)\s*::")


def strip_comments_and_strings(text):
    """Blanks out comments, string and char literals, keeping newlines (so line numbers hold)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): only literals are blanked.
            m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(src, path):
    """The module path of a file under src/ as a tuple: lib.rs -> (), a/mod.rs and a.rs -> ("a",)."""
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts == ["lib"]:
        return ()
    if parts[-1] == "mod":
        parts.pop()
    return tuple(parts)


def expand_paths(code, start):
    """The full paths that begin at `start` in code (`crate::a::{b, c::D}` gives a::b and a::c::D)."""
    m = re.match(r"(?:\w+\s*::\s*)*(\{)?", code[start:])
    head = code[start:start + m.end()]
    head = re.sub(r"\s+", "", head)
    if not m.group(1):
        m2 = re.match(r"(?:\w+\s*::\s*)*\w+", code[start:])
        return [re.sub(r"\s+", "", m2.group(0))] if m2 else []
    # A group: split its top-level members and expand each.
    depth, i, begin = 0, start + m.end(), start + m.end()
    members = []
    while i < len(code):
        ch = code[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                members.append(code[begin:i])
                break
            depth -= 1
        elif ch == "," and depth == 0:
            members.append(code[begin:i])
            begin = i + 1
        i += 1
    paths = []
    prefix = head[:-1]  # ends with "::"
    for member in members:
        member = member.strip()
        if not member:
            continue
        inner = re.sub(r"\s+", " ", member)
        if "{" in inner:
            sub = expand_paths(prefix + inner, 0)
            paths.extend(sub)
        else:
            name = inner.split(" as ")[0].strip()
            paths.append(prefix + re.sub(r"\s+", "", name))
    return paths


def resolve(path, here, modules):
    """The module file that `path` (crate::a::b / super::x / self::y) lands in, or None."""
    parts = path.split("::")
    if parts[0] == "crate":
        base, rest = [], parts[1:]
    else:
        base = list(here)
        rest = parts
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                if not base:
                    return None
                base.pop()
            rest = rest[1:]
    full = base + [p for p in rest if p not in ("self", "*")]
    # The longest prefix that is a file's module; the crate root (lib.rs) when none is.
    for k in range(len(full), -1, -1):
        if tuple(full[:k]) in modules:
            return tuple(full[:k])
    return None


def crate_edges(src):
    files = [p for p in src.rglob("*.rs") if "bin" not in p.relative_to(src).parts]
    modules = {module_of(src, p): p for p in files}
    edges = {m: {} for m in modules}
    for mod, path in modules.items():
        code = strip_comments_and_strings(path.read_text())
        lines = code.split("\n")
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        # Inline modules (`mod tests { ... }`) shift what `super::` means inside them.
        inline = []  # (name, brace depth at which it closes)
        depth = 0
        line_module = []
        for line in lines:
            m = INLINE_MOD.match(line)
            if m:
                inline.append((m.group(1), depth))
            line_module.append(mod + tuple(name for name, _ in inline))
            depth += line.count("{") - line.count("}")
            while inline and depth <= inline[-1][1]:
                inline.pop()
        for lineno, line in enumerate(lines):
            if MOD_DECL.match(line):
                continue
            rel = USE_RELATIVE.match(line)
            if rel and rel.group(1) not in ("crate", "super", "self"):
                here = line_module[lineno]
                if here + (rel.group(1),) in modules:
                    start = offsets[lineno] + rel.start(1)
                    for full in expand_paths(code, start):
                        target = resolve("self::" + full, here, modules)
                        if target is not None and target != mod:
                            edges[mod].setdefault(target, (lineno + 1, full))
            for m in PATH_START.finditer(line):
                # Skip the tail of a longer path (`a::crate` cannot occur; `x::super` neither).
                before = line[:m.start()].rstrip()
                if before.endswith("::"):
                    continue
                start = offsets[lineno] + m.start()
                for full in expand_paths(code, start):
                    target = resolve(full, line_module[lineno], modules)
                    if target is None or target == mod:
                        continue
                    edges[mod].setdefault(target, (lineno + 1, full))
    return modules, edges


def find_cycles(edges):
    """Strongly connected components with more than one file (Tarjan), each as a list."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    problems = []
    crates = sorted(p for p in root.glob("stage*/src") if p.is_dir())
    for src in crates:
        modules, edges = crate_edges(src)
        for comp in find_cycles(edges):
            names = {m: str(modules[m].relative_to(root)) for m in comp}
            problems.append(f"import cycle in {src.parent.name}: " + ", ".join(names[m] for m in comp))
            for a in comp:
                for b, (line, path) in sorted(edges[a].items()):
                    if b in comp:
                        problems.append(f"    {names[a]}:{line} names {path} ({names[b]})")
        for path in sorted(src.rglob("*.rs")):
            count = path.read_text().count("\n")
            if count > MAX_LINES:
                problems.append(f"{path.relative_to(root)}: {count} lines (at most {MAX_LINES}: split it by idea)")
    for p in problems:
        print(p)
    total = sum(1 for src in crates for _ in src.rglob("*.rs"))
    if problems:
        print(f"layout: {total} files checked, {sum(1 for p in problems if not p.startswith('    '))} problems")
        return 1
    print(f"layout: {total} files in {len(crates)} crates, no import cycle, none over {MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
