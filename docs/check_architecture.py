#!/usr/bin/python3
"""The include rules of docs/architecture.md, checked over the source tree.

    check_architecture.py             every C++ file under the folders the rules name
    check_architecture.py self-test   the check catches a file that breaks a rule

Reads the table between the include-rules markers of docs/architecture.md: a file takes the first
row whose pattern (fnmatch, over its path from the repository's root) matches; its `#include`s of
`opsync/...` headers must come from the row's allowed components, and none may start with a
forbidden prefix. A C++ file that matches no row is an error too: a new folder needs its rule.
Exits 1 listing every problem.
"""

import fnmatch
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
FOLDERS = ["protocol", "reference-server", "reference-client", "simulator", "conformance", "vectors", "bench"]
SUFFIXES = {".cpp", ".h", ".hpp", ".cc"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)


def read_rules(text):
    """[(patterns, allowed components or None for any, forbidden prefixes)] from the table."""
    begin, end = text.index("<!-- include-rules:begin -->"), text.index("<!-- include-rules:end -->")
    rules = []
    for line in text[begin:end].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue  # the marker, the head, the separator
        ticked = lambda cell: re.findall(r"`([^`]+)`", cell)  # noqa: E731
        patterns = ticked(cells[0])
        allowed = None if cells[1] == "any" else {c.removeprefix("opsync/") for c in ticked(cells[1])}
        rules.append((patterns, allowed, ticked(cells[2])))
    if not rules:
        raise SystemExit("check_architecture.py: no rules between the markers of docs/architecture.md")
    return rules


def rule_for(path, rules):
    for rule in rules:
        if any(fnmatch.fnmatch(path, pattern) for pattern in rule[0]):
            return rule
    return None


def problems_of(path, text, rules):
    rule = rule_for(path, rules)
    if rule is None:
        return [f"{path}: no row of the include rules matches it (docs/architecture.md)"]
    patterns, allowed, forbidden = rule
    problems = []
    for header in INCLUDE.findall(text):
        for prefix in forbidden:
            if header.startswith(prefix):
                problems.append(f"{path}: includes {header}, which its rule ({patterns[0]}) forbids")
        if allowed is not None and header.startswith("opsync/"):
            component = header.split("/")[1]
            if component not in allowed:
                problems.append(f"{path}: includes {header}; its rule ({patterns[0]}) allows opsync/ headers of "
                                f"{', '.join(sorted(allowed))} only")
    return problems


def sources():
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file():
                yield str(path.relative_to(ROOT)), path.read_text(errors="replace")


def main():
    rules = read_rules(DOC.read_text())
    if sys.argv[1:] == ["self-test"]:
        # Each broken file must be caught; the clean one must pass.
        cases = [
            ("reference-server/src/core.cpp", '#include "opsync/server/sqlite_storage.h"\n', True),
            ("reference-server/src/core.cpp", "#include <sqlite3.h>\n", True),
            ("protocol/src/op.cpp", '#include "opsync/client/engine.h"\n', True),
            ("conformance/src/runner.cpp", '#include "opsync/server/core.h"\n', True),
            ("simulator/src/world.cpp", '#include "opsync/client/http_driver.h"\n', True),
            ("simulator/src/world.cpp", '#include "opsync/conformance/report.h"\n', True),
            ("newfolder/x.cpp", "", True),
            ("simulator/tools/certify.cpp", '#include "opsync/conformance/report.h"\n', False),
            ("reference-server/tests/x.cpp", '#include "opsync/client/engine.h"\n#include <sqlite3.h>\n', False),
        ]
        wrong = [(path, text) for path, text, broken in cases if bool(problems_of(path, text, rules)) != broken]
        for path, text in wrong:
            print(f"check_architecture.py: self-test: {path} with {text.strip()!r} judged wrongly", file=sys.stderr)
        if wrong:
            sys.exit(1)
        print(f"check_architecture.py: self-test: {len(cases)} files judged as they must be")
        return
    problems, count = [], 0
    for path, text in sources():
        count += 1
        problems.extend(problems_of(path, text, rules))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(f"check_architecture.py: {len(problems)} problems")
    print(f"check_architecture.py: {count} files keep the {len(rules)} include rules of docs/architecture.md")


if __name__ == "__main__":
    main()
