#!/usr/bin/python3
"""Checks that spec/client-adapter.md and spec/client-adapter-requirements.json agree.

    check_adapter_requirements.py            the adapter spec against its catalog
    check_adapter_requirements.py self-test  the checks catch the mistakes they exist for

The text defines a requirement with a list item that opens with its id, and a level when it has
one: "- [ADP-010] MUST: ..." or, for a descriptive statement, "- [ADP-014]: ...". The catalog lists
every id once with the same level (null for a descriptive one), the same section and a summary.
Reported: an id defined twice in the text or listed twice in the catalog, an id on one side only,
a level or section that differs, a summary missing, a bracketed id that opens no list item, a
reference to an ADP id the text does not define, and a reference to an id of opsync-v1 that
spec/requirements.json does not list. This is spec/requirements_check.cpp's reading of
opsync-v1.md, less its rule on keywords outside tagged statements (client-adapter.md says what
the keywords mean in plain words) and with level-less ids. Exits 1 listing each problem.
"""

import json
import pathlib
import re
import sys

SPEC_DIR = pathlib.Path(__file__).resolve().parent

HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? .*")
OTHER_HEADING = re.compile(r"^#{1,6} .*")
DEFINITION = re.compile(r"^- \[([A-Z]+-\d{3})\](?: (MUST NOT|MUST|SHOULD NOT|SHOULD|MAY))?: ")
BRACKETED = re.compile(r"\[([A-Z]+-\d{3})\]")
REFERENCE = re.compile(r"\b([A-Z]{2,4}-\d{3})\b")
RETIRED_ITEM = re.compile(r"^- ([A-Z]{2,4}-\d{3})\b")


def without_code_spans(line):
    """The line less its `code spans`, so that text quoting an id or a keyword does not count."""
    out = []
    in_code = False
    for c in line:
        if c == "`":
            in_code = not in_code
        elif not in_code:
            out.append(c)
    return "".join(out)


def read_spec(markdown):
    """(requirements in document order as dicts, retired ids, references as (id, line), problems)."""
    requirements, retired, references, problems = [], [], [], []
    section = ""
    in_fence = in_retired = False
    defined = set()
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = HEADING.match(line)
        if m:
            section, in_retired = m.group(1), False
            continue
        if OTHER_HEADING.match(line):
            section, in_retired = "", "Retired requirements" in line
            continue
        text = without_code_spans(line)
        if in_retired:
            m = RETIRED_ITEM.match(text)
            if m:
                retired.append(m.group(1))
            continue
        m = DEFINITION.match(text)
        if m:
            rid = m.group(1)
            if rid in defined:
                problems.append(f"line {number}: {rid} is defined twice")
            defined.add(rid)
            if not section:
                problems.append(f"line {number}: {rid} is outside a numbered section")
            requirements.append({"id": rid, "level": m.group(2), "section": section, "line": number})
        for b in BRACKETED.finditer(text):
            if not (m and b.start() == 2):
                problems.append(f"line {number}: [{b.group(1)}] does not open a list item \"- [ID] LEVEL: \"")
        for r in REFERENCE.finditer(text):
            references.append((r.group(1), number))
    for rid in retired:
        if rid in defined:
            problems.append(f"{rid} is both retired and defined")
    return requirements, retired, references, problems


def compare(markdown, catalog_text, other_catalog_text=None):
    """Every disagreement between the text and its catalog; empty when they agree."""
    requirements, retired, references, problems = read_spec(markdown)
    try:
        catalog = json.loads(catalog_text)
    except ValueError as error:
        return problems + [f"the catalog is not JSON: {error}"]
    if not isinstance(catalog, dict) or not isinstance(catalog.get("requirements"), list) or not isinstance(
            catalog.get("retired"), list):
        return problems + ['the catalog needs arrays "requirements" and "retired"']
    in_text = {r["id"]: r for r in requirements}
    listed = set()
    for entry in catalog["requirements"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            problems.append("the catalog has an entry without a string id")
            continue
        rid = entry["id"]
        if rid in listed:
            problems.append(f"{rid} is listed twice in the catalog")
        listed.add(rid)
        if not isinstance(entry.get("summary"), str) or not entry["summary"].strip():
            problems.append(f"{rid} has no summary in the catalog")
        if rid not in in_text:
            problems.append(f"{rid} is in the catalog but not defined in the text")
            continue
        if "level" not in entry or entry["level"] != in_text[rid]["level"]:
            problems.append(f"{rid}: level {in_text[rid]['level'] or 'none'} in the text (line "
                            f"{in_text[rid]['line']}), {json.dumps(entry.get('level', 'missing'))} in the catalog")
        if entry.get("section") != in_text[rid]["section"]:
            problems.append(f"{rid}: section {in_text[rid]['section']} in the text, "
                            f"{json.dumps(entry.get('section'))} in the catalog")
    for r in requirements:
        if r["id"] not in listed:
            problems.append(f"{r['id']} is defined in the text (line {r['line']}) but missing from the catalog")
    retired_listed = {e.get("id") for e in catalog["retired"] if isinstance(e, dict)}
    if retired_listed != set(retired):
        problems.append("the retired ids differ between the text and the catalog")
    for rid in sorted(retired_listed & listed):
        problems.append(f"{rid} is both active and retired in the catalog")

    own_prefixes = {r["id"].split("-")[0] for r in requirements}
    other = set()
    other_prefixes = set()
    if other_catalog_text is not None:
        other_catalog = json.loads(other_catalog_text)
        other = {e["id"] for e in other_catalog["requirements"]} | {e["id"] for e in other_catalog["retired"]}
        other_prefixes = {rid.split("-")[0] for rid in other}
    for rid, number in references:
        prefix = rid.split("-")[0]
        if prefix in own_prefixes and rid not in in_text and rid not in retired:
            problems.append(f"line {number}: a reference to {rid}, which the text does not define")
        elif prefix in other_prefixes and prefix not in own_prefixes and rid not in other:
            problems.append(f"line {number}: a reference to {rid}, which spec/requirements.json does not list")
    return problems


SMALL_SPEC = """# Title
Words: MUST is as in RFC 2119, and `[ABC-009] MUST` in code is no definition.
## 1. Area
### 1.1 Part
- [ABC-001] MUST: The first rule; see ABC-002 and TRN-001.
- [ABC-002]: A description,
  continued on an indented line.
## 2. More
- [ABC-003] SHOULD NOT: The third.
"""
SMALL_CATALOG = {"requirements": [
    {"id": "ABC-001", "level": "MUST", "section": "1.1", "summary": "first"},
    {"id": "ABC-002", "level": None, "section": "1.1", "summary": "second"},
    {"id": "ABC-003", "level": "SHOULD NOT", "section": "2", "summary": "third"}], "retired": []}
OTHER_CATALOG = {"requirements": [{"id": "TRN-001"}], "retired": []}


def self_test():
    problems = []
    other = json.dumps(OTHER_CATALOG)

    def run(spec, change=None):
        catalog = json.loads(json.dumps(SMALL_CATALOG))
        if change:
            change(catalog)
        return compare(spec, json.dumps(catalog), other)

    if run(SMALL_SPEC):
        problems.append(f"a consistent pair fails: {run(SMALL_SPEC)}")
    entries = lambda c: c["requirements"]
    cases = [
        ("a level that differs", SMALL_SPEC, lambda c: entries(c)[0].update(level="SHOULD"), "level"),
        ("a level given to a descriptive id", SMALL_SPEC, lambda c: entries(c)[1].update(level="MUST"), "level"),
        ("a level missing from the catalog", SMALL_SPEC, lambda c: entries(c)[2].pop("level"), "level"),
        ("a section that differs", SMALL_SPEC, lambda c: entries(c)[2].update(section="1.1"), "section"),
        ("an id missing from the catalog", SMALL_SPEC, lambda c: entries(c).pop(), "missing from the catalog"),
        ("an id missing from the text", SMALL_SPEC,
         lambda c: entries(c).append({"id": "ABC-004", "level": "MAY", "section": "2", "summary": "x"}),
         "not defined in the text"),
        ("an id listed twice", SMALL_SPEC, lambda c: entries(c).append(dict(entries(c)[0])), "listed twice"),
        ("a summary missing", SMALL_SPEC, lambda c: entries(c)[0].update(summary=""), "no summary"),
        ("an id defined twice", SMALL_SPEC + "- [ABC-001] MAY: Again.\n", None, "defined twice"),
        ("a dangling reference", SMALL_SPEC + "See ABC-007.\n", None, "ABC-007"),
        ("a reference to an unknown id of opsync-v1", SMALL_SPEC + "See TRN-002.\n", None, "TRN-002"),
        ("a bracketed id inside a sentence", SMALL_SPEC + "Text with [ABC-001] in it.\n", None, "does not open"),
        ("a definition with a misspelt level", SMALL_SPEC + "- [ABC-005] MUTS: x\n", None, "does not open"),
    ]
    for what, spec, change, expect in cases:
        found = run(spec, change)
        if not any(expect in p for p in found):
            problems.append(f"{what} is not caught: {found}")
    if not compare(SMALL_SPEC, "not json"):
        problems.append("a catalog that is not JSON is not caught")
    return problems


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "self-test":
        problems = self_test()
        done = "the checks catch what they exist for"
    elif len(sys.argv) == 1:
        markdown = (SPEC_DIR / "client-adapter.md").read_text(encoding="utf-8")
        catalog = (SPEC_DIR / "client-adapter-requirements.json").read_text(encoding="utf-8")
        other = (SPEC_DIR / "requirements.json").read_text(encoding="utf-8")
        problems = compare(markdown, catalog, other)
        count = len(read_spec(markdown)[0])
        done = f"client-adapter.md and client-adapter-requirements.json agree on {count} ids"
        if count == 0:
            problems.append("client-adapter.md defines no requirement")
    else:
        sys.exit(__doc__)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_adapter_requirements.py: {len(problems)} problems")
        return 1
    print(f"check_adapter_requirements.py: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
