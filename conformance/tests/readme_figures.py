#!/usr/bin/python3
"""The figures the READMEs state about the conformance suite, checked against the programs.

    readme_figures.py OPSYNC_CONFORMANCE OPSYNC_SERVER_DEFECTIVE

A figure typed into prose goes stale the day a case or a requirement is added; this test fails
then, naming the sentence and the figure the program gives, so that the text is corrected in the
same change:
- README.md: "N cases with permanent ids" is the number of cases `--list --level all` lists, and
  "N deliberately broken builds" the number of defects `opsync-server-defective --list-defects` has.
- conformance/README.md: "N of the M MUST requirements have cases" is what `coverage` prints;
  "The suite has N cases (A MUST, B SHOULD" counts `--list --level all` by level; "the table has N
  defect switches" is `--list-defects`; "N of its M clauses" is the `clauses:` line of `coverage`.
Exits 0 when every figure holds, 1 otherwise.
"""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def output(*command):
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def main(arguments):
    if len(arguments) != 2:
        sys.exit(__doc__)
    conformance, defective = arguments
    listed = [line.split() for line in output(conformance, "--list", "--level", "all").splitlines() if line.strip()]
    cases = len(listed)
    must = len([fields for fields in listed if fields[1] == "MUST"])
    should = len([fields for fields in listed if fields[1] == "SHOULD"])
    defects = len([line for line in output(defective, "--list-defects").splitlines() if line.strip()])
    coverage_text = output(conformance, "coverage")
    coverage = re.search(r"^MUST: (\d+) of (\d+) covered by cases$", coverage_text, re.M)
    if not coverage:
        sys.exit("opsync-conformance coverage printed no 'MUST: N of M covered by cases' line")
    clauses = re.search(r"^clauses: (\d+) of (\d+) checked by cases, in the (\d+) MUST", coverage_text, re.M)
    if not clauses:
        sys.exit("opsync-conformance coverage printed no 'clauses: N of M checked by cases' line")
    expected = [
        ("README.md", r"its URL: (\d+) cases with permanent ids", [cases]),
        ("README.md", r"against (\d+) deliberately broken", [defects]),
        ("conformance/README.md", r"(\d+) of the (\d+) MUST requirements have cases",
         [int(coverage.group(1)), int(coverage.group(2))]),
        ("conformance/README.md", r"The suite has (\d+) cases \((\d+) MUST, (\d+) SHOULD", [cases, must, should]),
        ("conformance/README.md", r"the table has (\d+) defect switches", [defects]),
        ("conformance/README.md", r"splits the (\d+) MUST and MUST NOT requirements with cases into (\d+) clauses, "
         r"(\d+) of them checked by cases",
         [int(clauses.group(3)), int(clauses.group(2)), int(clauses.group(1))]),
    ]
    problems = []
    for file, pattern, figures in expected:
        text = " ".join((ROOT / file).read_text().split())  # sentences may wrap anywhere
        found = re.search(pattern, text)
        if not found:
            problems.append(f"{file}: no sentence matches {pattern!r}")
        elif [int(g) for g in found.groups()] != figures:
            problems.append(f"{file}: '{found.group(0)}' should say {', '.join(map(str, figures))}")
    for problem in problems:
        print(problem)
    print("the READMEs' figures of the conformance suite: " + ("ok" if not problems else "STALE"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
