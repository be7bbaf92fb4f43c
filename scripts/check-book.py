#!/usr/bin/env python3
"""Fail when the book shows a reader something that is not true of their machine.

Two kinds of drift, both invisible to mdBook:

1. A path from the authors' machine: sample output pasted from a terminal carries the
   directory it ran in (`/home/NAME/...`, `/root/...`, `/Users/...`, `C:\\...`, or this
   project's own work directories). A reader has none of them.
2. A command that would not run: the book's ```console, ```sh, ```bash and ```text blocks
   (lines after a `$ ` prompt, or every line of a sh block) and its inline `cargo ...` and
   `just ...` code spans. A static check, fast enough for CI (asking cargo itself,
   `cargo test ... --no-run`, would build the workspace):
   - `-p`/`--package` names a crate of the workspace;
   - `--bin NAME` names a binary of that crate (or of any crate, without `-p`), and
     `--profile NAME` a profile of Cargo.toml;
   - `cargo test` takes at most one test-name filter before `--` (more is cargo's
     "unexpected argument": write `cargo test -p X -- a:: b::`), and `cargo run` none
     (the program's own flags go after `--`);
   - `just RECIPE` names a recipe of the justfile;
   - a `scripts/...` or `docs/python/...` path a command runs exists.

Reads docs/src/*.md, docs/python/* and README.md. Standard library only.
Usage: check-book.py [REPO_ROOT]   (default: the directory above this script)
Exit status 1 with one line per problem.
"""

import pathlib
import re
import shlex
import sys

# Absolute paths that only exist on the authors' machines. A path is "absolute" here when it
# starts a word (after a space, quote, backtick, parenthesis or line start).
# The top directories such paths start with: a work tree, a home, root's home, a Mac's homes.
# (Named as words, not written as paths, so this file names no machine's path itself.)
WORK_DIR, HOMES, ROOT_HOME, MAC_HOMES = "work", "home", "root", "Users"
MACHINE_PATH = re.compile(
    r"(?:^|[\s`'\"(=])("
    rf"/{WORK_DIR}/[\w.-]"
    rf"|/{HOMES}/(?!NAME\b|USER\b|you\b)[\w.-]+"
    rf"|/{ROOT_HOME}/"
    rf"|/{MAC_HOMES}/(?!NAME\b|you\b)[\w.-]+"
    r"|[A-Za-z]:\\\\?[\w.-]+\\)"
)

# Fences whose lines are commands (or terminal transcripts).
COMMAND_FENCES = {"console", "sh", "bash", "shell", "text"}

# cargo options that take a value (the value is the next word unless written `--opt=value`).
CARGO_VALUE_OPTS = {
    "-p", "--package", "--bin", "--test", "--example", "--bench", "--features", "-F",
    "--profile", "--target", "--manifest-path", "-j", "--jobs", "--exclude", "--color",
    "--target-dir", "--config", "-Z", "--message-format", "--root",
}
CARGO_SUBCOMMANDS_CHECKED = {"run", "test", "build", "check", "clippy", "bench", "doc"}


def workspace(root):
    """(crate -> set of binaries, set of profile names)."""
    cargo = (root / "Cargo.toml").read_text()
    members = re.findall(r'"([\w.-]+)"', re.search(r"members\s*=\s*\[(.*?)\]", cargo, re.S).group(1))
    crates = {}
    for member in members:
        manifest = (root / member / "Cargo.toml").read_text()
        name = re.search(r'^name\s*=\s*"([\w-]+)"', manifest, re.M).group(1)
        bins = {p.stem for p in (root / member / "src" / "bin").glob("*.rs")}
        bins |= {p.name for p in (root / member / "src" / "bin").iterdir() if (p / "main.rs").exists()} \
            if (root / member / "src" / "bin").is_dir() else set()
        bins |= set(re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([\w-]+)"', manifest))
        if (root / member / "src" / "main.rs").exists():
            bins.add(name)
        crates[name] = bins
    profiles = {"dev", "release", "test", "bench"} | set(re.findall(r"^\[profile\.([\w-]+)\]", cargo, re.M))
    return crates, profiles


def recipes(root):
    justfile = root / "justfile"
    if not justfile.exists():
        return set()
    return set(re.findall(r"^@?([a-zA-Z_][\w-]*)(?:\s[^:\n]*)?:(?!=)", justfile.read_text(), re.M))


def split_commands(line):
    """A shell line -> its simple commands as word lists (split at && || ; |)."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        return []  # an unbalanced quote in prose-like text: nothing we can judge
    commands, current = [], []
    for word in words:
        if word and set(word) <= set(";&|"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    result = []
    for words in commands:
        # Drop what runs a command without being it: VAR=value, nice, time, env, sudo, exec.
        while words and (re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]) or words[0] in {"nice", "time", "env", "sudo", "exec", "command"}):
            words = words[1:]
        if words:
            result.append(words)
    return result


class Checker:
    def __init__(self, root):
        self.root = root
        self.crates, self.profiles = workspace(root)
        self.recipes = recipes(root)
        self.errors = []

    def error(self, where, command, why):
        self.errors.append(f"{where}: `{' '.join(command)}`: {why}")

    def check_command(self, where, words):
        if any(w.startswith(("<", "[")) or "..." in w or "…" in w or "{{" in w for w in words):
            return  # a template (`cargo run -p <crate>`): not a real command line
        for word in words:
            for path in re.findall(r"^(?:\./)?((?:scripts|docs/python)/[\w./-]+)", word):
                if not (self.root / path.rstrip(".")).exists():
                    self.error(where, words, f"{path} does not exist")
        if words[0] == "cargo":
            self.check_cargo(where, words)
        elif words[0] == "just" and len(words) > 1 and not words[1].startswith("-"):
            if words[1] not in self.recipes:
                self.error(where, words, f"the justfile has no recipe '{words[1]}' (it has: {', '.join(sorted(self.recipes))})")

    def check_cargo(self, where, words):
        args = words[1:]
        while args and args[0].startswith("+"):  # cargo +nightly
            args = args[1:]
        if not args or args[0] not in CARGO_SUBCOMMANDS_CHECKED:
            return
        sub, args = args[0], args[1:]
        before, after = (args[: args.index("--")], args[args.index("--") + 1:]) if "--" in args else (args, None)
        packages, bins, positionals = [], [], []
        i = 0
        while i < len(before):
            word = before[i]
            name, eq, value = word.partition("=")
            if word.startswith("-") and name in CARGO_VALUE_OPTS:
                if not eq:
                    i += 1
                    value = before[i] if i < len(before) else ""
                if name in ("-p", "--package"):
                    packages.append(value)
                elif name == "--bin":
                    bins.append(value)
                elif name == "--profile" and value not in self.profiles:
                    self.error(where, words, f"no profile '{value}' in Cargo.toml")
            elif not word.startswith("-"):
                positionals.append(word)
            i += 1
        for package in packages:
            if package not in self.crates:
                self.error(where, words, f"'{package}' is not a crate of the workspace")
        known = set().union(*[self.crates.get(p, set()) for p in packages]) if packages else set().union(*self.crates.values())
        for binary in bins:
            if packages and not all(p in self.crates for p in packages):
                continue  # already reported
            if binary not in known:
                self.error(where, words, f"no binary '{binary}'" + (f" in {', '.join(packages)}" if packages else " in the workspace"))
        if sub in ("test", "bench") and len(positionals) > 1:
            self.error(where, words, f"cargo {sub} takes one test-name filter before `--`; "
                       f"put these after it: `cargo {sub} ... -- {' '.join(positionals)}`")
        if sub == "run" and positionals:
            self.error(where, words, f"cargo run takes the program's arguments after `--` ({' '.join(positionals)})")


def fenced_lines(text):
    """(line number, fence language or None, line) for every line of a markdown text."""
    fence = None
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].split(",")[0].strip() or "")
            yield lineno, "```", line
            continue
        yield lineno, fence, line


INLINE = re.compile(r"`((?:cargo|just) [^`]+)`")


def check_markdown(checker, path, rel):
    text = path.read_text()
    for lineno, fence, line in fenced_lines(text):
        where = f"{rel}:{lineno}"
        if fence == "```":
            continue
        for hit in MACHINE_PATH.findall(line):
            checker.errors.append(f"{where}: a path from the authors' machine: {hit.strip()}")
        if fence is None:
            for span in INLINE.findall(line):
                for words in split_commands(span):
                    checker.check_command(where, words)
        elif fence in COMMAND_FENCES:
            stripped = line.strip()
            if stripped.startswith("$ "):
                command = stripped[2:]
            elif fence in ("sh", "bash", "shell") and not stripped.startswith("#"):
                command = stripped
            else:
                continue  # output, not a command
            for words in split_commands(command):
                checker.check_command(where, words)


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    checker = Checker(root)
    pages = sorted((root / "docs" / "src").glob("*.md")) + [root / "README.md", root / "docs" / "python" / "README.md"]
    for page in pages:
        if page.exists():
            check_markdown(checker, page, page.relative_to(root))
    for source in sorted((root / "docs" / "python").glob("*.py")):
        for lineno, line in enumerate(source.read_text().splitlines(), 1):
            for hit in MACHINE_PATH.findall(line):
                checker.errors.append(f"{source.relative_to(root)}:{lineno}: a path from the authors' machine: {hit.strip()}")
    for e in checker.errors:
        print(e)
    print(f"book check: {len(pages)} pages and the Python programs read, {len(checker.errors)} problems")
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
