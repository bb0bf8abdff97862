#!/usr/bin/python3
"""The size rule of docs/architecture.md, checked over the components' sources.

    check_sizes.py             every class and function under */src/ and */include/
    check_sizes.py self-test   the check catches a class and a function one line too long

A class is at most 400 lines: its body plus the bodies of its members defined outside it (in a
.cpp), so a class cannot pass by moving its code out of the braces. A function is at most 120
lines. Lambdas count as part of the function that holds them. Tests, fuzz targets, tools and
vector tables are outside the rule. Reads the tags of Universal Ctags (package universal-ctags).
Exits 1 listing every class and function over its limit.
"""

import json
import re
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLASS_LINES_MAX = 400
FUNCTION_LINES_MAX = 120
# Tables written as code, outside the rule like the vector tables: their length is the number of
# rows, not the length of a flow to hold in one's head.
TABLES = {
    ("protocol/src/messages.cpp", "Codec"): "one read and one write per message of spec 1.4",
}
# Over the limits and not split yet, each with the plan for it. The check fails when one of them
# grows or falls within the limits (then take it off this list), so the list only shrinks.
NOT_YET_SPLIT = {
}
FOLDERS = ["protocol", "reference-server", "reference-client", "simulator", "conformance"]
SUFFIXES = {".cpp", ".h"}


def source_files(root):
    files = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            parts = path.relative_to(root).parts
            if path.suffix in SUFFIXES and ("src" in parts or "include" in parts):
                files.append(path)
    return files


def read_tags(files, cwd):
    """The class, struct and function tags of `files`, as dicts of Universal Ctags' JSON output."""
    if not files:
        return []
    # Debian's universal-ctags installs ctags-universal (and ctags as an alternative, which another
    # ctags package may hold).
    ctags = shutil.which("ctags-universal") or shutil.which("ctags")
    if ctags is None:
        sys.exit("check_sizes.py: Universal Ctags not found (apt-get install universal-ctags)")
    command = [ctags, "--languages=C++", "--output-format=json", "--fields=+neKZS", "-o", "-"]
    out = subprocess.run(command + [str(f.relative_to(cwd)) for f in files], cwd=cwd, check=True,
                         capture_output=True, text=True).stdout
    tags = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [t for t in tags if t.get("_type") == "tag" and t.get("kind") in ("class", "struct", "function")
            and "end" in t and not t["name"].startswith("__anon")]


def without_hashes(name):
    """`name` with each anonymous namespace written `(anonymous)`: Universal Ctags names one
    after a hash that changes with the file."""
    return re.sub(r"__anon[0-9a-f]+", "(anonymous)", name)


def qualified(tag):
    return without_hashes(f"{tag['scope']}::{tag['name']}" if tag.get("scope") else tag["name"])


def oversized(tags):
    """[(lines, what, where)] of every class and function over its limit."""
    classes = {}  # qualified name -> [lines, path, first line, last line]
    for tag in tags:
        if tag["kind"] in ("class", "struct"):
            lines = tag["end"] - tag["line"] + 1
            known = classes.get(qualified(tag))
            if known is None or lines > known[0]:  # a forward declaration has no body to speak of
                classes[qualified(tag)] = [lines, tag["path"], tag["line"], tag["end"]]
    problems = []
    for tag in tags:
        if tag["kind"] != "function":
            continue
        lines = tag["end"] - tag["line"] + 1
        if lines > FUNCTION_LINES_MAX:
            problems.append((lines, f"function {qualified(tag)}", f"{tag['path']}:{tag['line']}",
                             FUNCTION_LINES_MAX))
        scope = without_hashes(tag.get("scope", ""))
        owner = classes.get(scope) if tag.get("scopeKind") in ("class", "struct") else None
        inside = owner and owner[1] == tag["path"] and owner[2] <= tag["line"] <= owner[3]
        if owner and not inside:
            owner[0] += lines  # a member defined outside the class's braces
    for name, (lines, path, first, _) in classes.items():
        if (path, name.rsplit("::", 1)[-1]) in TABLES:
            continue
        if lines > CLASS_LINES_MAX:
            problems.append((lines, f"class {name}", f"{path}:{first}", CLASS_LINES_MAX))
    return sorted(problems, reverse=True)


def self_test():
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        src = root / "simulator" / "src"
        src.mkdir(parents=True)
        body = lambda n: "".join(f"  x += {i};\n" for i in range(n))  # noqa: E731
        # A class of 60 lines in its header and 342 more in out-of-line members: 402 in all.
        (src / "big.h").write_text("struct Big {\n" + "".join(f"  void f{i}();\n" for i in range(58)) + "};\n")
        members = "".join(f"void Big::f{i}() {{\n  int x = 0;\n{body(35)}}}\n" for i in range(9))  # 9 x 38
        # One function of 121 lines, one of 120.
        long_one = "int too_long() {\n  int x = 0;\n" + body(118) + "  return x; }\n"
        fine_one = "int fits() {\n  int x = 0;\n" + body(117) + "  return x; }\n"
        (src / "big.cpp").write_text('#include "big.h"\n' + members + long_one + fine_one)
        found = {what: lines for lines, what, _, _ in oversized(read_tags(source_files(root), root))}
        expected = {"class Big": 402, "function too_long": 121}
        if found != expected:
            print(f"check_sizes.py self-test: expected {expected}, found {found}", file=sys.stderr)
            return 1
    print("check_sizes.py self-test: a class of 402 lines and a function of 121 are caught, 120 passes")
    return 0


def main():
    if sys.argv[1:] == ["self-test"]:
        return self_test()
    files = source_files(ROOT)
    problems = []
    listed = dict(NOT_YET_SPLIT)
    for lines, what, where, limit in oversized(read_tags(files, ROOT)):
        known = listed.pop(what, None)
        if known is not None and lines <= known[0]:
            print(f"{where}: {what} has {lines} lines, not split yet: {known[1]}")
            continue
        problems.append((lines, what, where, limit))
        print(f"{where}: {what} has {lines} lines (at most {limit})")
    for what, (lines, _) in listed.items():
        problems.append((lines, what, "", 0))
        print(f"{what} is within the limits now: take it off NOT_YET_SPLIT in docs/check_sizes.py")
    if problems:
        print(f"check_sizes.py: {len(problems)} over the limits of docs/architecture.md; split them by phase or concern")
        return 1
    waiting = f" ({len(NOT_YET_SPLIT)} listed as not split yet)" if NOT_YET_SPLIT else ""
    print(f"check_sizes.py: every class within {CLASS_LINES_MAX} lines and every function within "
          f"{FUNCTION_LINES_MAX} in {len(files)} files{waiting}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
