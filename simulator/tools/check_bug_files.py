#!/usr/bin/python3
"""Validates bug files against simulator/schema/opsync-bug-1.schema.json.

    check_bug_files.py [FILE_OR_DIR...]     (default: simulator/scenarios)

The schema must itself be a valid draft 2020-12 schema and every file must match it. As a check
that the schema says something, a few damaged copies of the first file must fail it. Exits 1 on
any failure, listing each one. Needs the jsonschema module (Debian: python3-jsonschema).
"""

import copy
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_bug_files.py: the jsonschema module is missing; install python3-jsonschema")

HERE = pathlib.Path(__file__).resolve().parent
SCHEMA = HERE.parent / "schema" / "opsync-bug-1.schema.json"


def bug_files(arguments):
    paths = [pathlib.Path(a) for a in arguments] or [HERE.parent / "scenarios"]
    for path in paths:
        if path.is_dir():
            yield from sorted(path.glob("*.json"))
        else:
            yield path


def damaged_copies(bug):
    """Copies the schema must refuse, each with what is wrong with it."""
    def changed(what, change):
        copy_ = copy.deepcopy(bug)
        change(copy_)
        return what, copy_

    return [
        changed("another format version", lambda b: b.update(format="opsync-bug/2")),
        changed("no decision log", lambda b: b.pop("decisions")),
        changed("a negative decision", lambda b: b["decisions"].update({"network/device-0": [3, -1]})),
        changed("a short trace hash", lambda b: b.update(trace_hash="abc")),
        changed("no devices", lambda b: b["config"].update(devices=0)),
        changed("an unknown script action", lambda b: b["config"].update(
            script=[{"at_ms": 0, "device": 0, "action": "teleport"}])),
        changed("an unknown checker", lambda b: b.update(checker="vibes")),
        changed("an unknown member", lambda b: b.update(colour="red")),
    ]


def main(arguments):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        print(f"{SCHEMA.name}: not a valid draft 2020-12 schema: {error.message}")
        return 1
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    checked = []
    for path in bug_files(arguments):
        try:
            bug = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{path}: cannot be read as JSON: {error}")
            continue
        checked.append(bug)
        for error in validator.iter_errors(bug):
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{path}: {where}: {error.message}")
    if not checked:
        problems.append("no bug files to check")
    else:
        for what, bug in damaged_copies(checked[0]):
            if validator.is_valid(bug):
                problems.append(f"the schema accepts a bug file with {what}")
    for problem in problems:
        print(problem)
    print(f"{len(checked)} bug files checked against {SCHEMA.name}: "
          f"{'ok' if not problems else str(len(problems)) + ' problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
