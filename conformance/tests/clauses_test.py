#!/usr/bin/python3
"""The clause table (conformance/clauses.json) against the cases, and the check itself able to fail.

    clauses_test.py OPSYNC_CONFORMANCE

1. `opsync-conformance coverage` on the built-in table: no problem, every covered MUST or MUST NOT
   requirement split into clauses, and a `clauses: N of M checked` line.
2. Broken copies of the table, each judged with `coverage --clause-table`: a clause with neither
   a case nor a reason, a clause naming a case that does not exist, one naming a case that does not
   cite its requirement, a covered requirement left out. Each must exit 1 and name the problem, so
   that the test in 1 can fail.
Exits 0 when all hold, 1 otherwise.
"""

import copy
import json
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def coverage(conformance, *arguments):
    return subprocess.run([conformance, "coverage", *arguments], capture_output=True, text=True, timeout=120)


def main(arguments):
    if len(arguments) != 1:
        sys.exit(__doc__)
    conformance = arguments[0]
    problems = []
    built_in = coverage(conformance)
    figures = re.search(r"^clauses: (\d+) of (\d+) checked by cases", built_in.stdout, re.M)
    if built_in.returncode != 0:
        problems.append("coverage on the built-in table exits %d:\n%s" % (
            built_in.returncode, "\n".join(l for l in built_in.stdout.splitlines() if l.startswith("problem"))))
    if not figures:
        problems.append("coverage prints no 'clauses: N of M checked by cases' line")
    rows = [l for l in built_in.stdout.splitlines() if re.match(r"^[A-Z]+-\d+ +MUST", l)]
    covered = [l for l in rows if "NOT COVERED" not in l and not re.search(r"\s(client|untestable|in-process):", l)]
    unsplit = [l.split()[0] for l in covered if "clauses" not in l]
    if unsplit:
        problems.append("covered MUST requirements without a clause count: " + " ".join(unsplit))

    table = json.loads((ROOT / "conformance" / "clauses.json").read_text())
    first_id = next(iter(table["requirements"]))
    first = table["requirements"][first_id][0]

    def broken(edit, expected):
        doc = copy.deepcopy(table)
        edit(doc)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        result = coverage(conformance, "--clause-table", f.name)
        pathlib.Path(f.name).unlink()
        if result.returncode != 1 or not re.search(expected, result.stdout):
            problems.append("a table where %s: exit %d, no line matching %r" % (expected, result.returncode, expected))

    def neither(doc):
        clause = doc["requirements"][first_id][0]
        clause.pop("cases", None)
        clause.pop("reason", None)
    broken(neither, re.escape(first["id"]) + " has neither a case nor a reason")

    def unknown_case(doc):
        doc["requirements"][first_id][0] = {"id": first["id"], "clause": first["clause"], "cases": ["nosuch-999"]}
    broken(unknown_case, re.escape(first["id"]) + " names nosuch-999, which is no case")

    def uncited(doc):
        doc["requirements"][first_id][0] = {"id": first["id"], "clause": first["clause"], "cases": ["transport-005"]}
    broken(uncited, re.escape(first["id"]) + " names transport-005, which does not cite " + re.escape(first_id))

    def left_out(doc):
        del doc["requirements"][first_id]
    broken(left_out, re.escape(first_id) + " has cases but no clauses in clauses.json")

    for problem in problems:
        print(problem)
    if figures:
        print("clauses: %s of %s checked by cases" % (figures.group(1), figures.group(2)))
    print("the clause table: " + ("ok" if not problems else "BROKEN"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
