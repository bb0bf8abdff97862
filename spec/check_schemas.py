#!/usr/bin/python3
"""Checks messages against the JSON Schemas of spec/schema/ (spec section 1.4).

    check_schemas.py vectors [VECTORS_DIR]     every wire_messages vector against its schema
    check_schemas.py responses RECORDS_DIR     every response recorded by the server's test suites
    check_schemas.py self-test                 the checks catch messages that break a schema

Every schema must be a valid draft 2020-12 schema, and every message type of the vectors must
have one. A valid vector must match its schema. An invalid vector must fail to parse as JSON
text, fail its schema, or carry a flag that names a rule the spec states in words and a schema
cannot (WORD_RULES below). A recorded response must match the schema of the message its endpoint
answers with for its status (ErrorBody from 400 up). Exits 1 on any failure, listing each one.
Needs the jsonschema module (Debian: python3-jsonschema).
"""

import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_schemas.py: the jsonschema module is missing; install python3-jsonschema")

SPEC_DIR = pathlib.Path(__file__).resolve().parent
SCHEMA_DIR = SPEC_DIR / "schema"

# Flags of invalid vectors whose rule no JSON Schema can state, with the rule.
WORD_RULES = {
    "DuplicateMember": "TRN-021: a parsed document has no repeated members to look at",
    "Nesting": "TRN-020, TRN-026: depth is not a schema keyword",
    "NonIntegerNumber": "TRN-024: JSON Schema's data model makes 1.0 and -0 integers",
    "LoneSurrogate": "TRN-028: a parser decodes the escape before a schema sees the string",
    "CrossMember": "rules between members (LOG-022, LOG-028, LOG-033, AUTH-024, KEY-006, INF-005, ERR-010)",
    "Semantics": "a rule of the message stated in words (order, byte lengths, sizes derived from others)",
}


class Duplicate(Exception):
    pass


def no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise Duplicate("a member repeats")
    return dict(pairs)


def parse(text):
    """The document, or None when the text is not JSON text of RFC 8259 with unique members."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except (ValueError, Duplicate, RecursionError):
        return None


def load_schemas():
    """Validators by message type, sharing one store so that references between files resolve."""
    store = {}
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        if schema.get("$id", "").rsplit("/", 1)[-1] != path.name:
            sys.exit(f"check_schemas.py: {path.name}: $id does not end in the file's name")
        store[schema["$id"]] = schema
        schemas[path.name[: -len(".schema.json")]] = schema
    validators = {}
    try:  # jsonschema 4.18 and later resolve references through a registry
        import referencing
        import referencing.jsonschema
        registry = referencing.Registry().with_resources(
            (uri, referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012))
            for uri, schema in store.items())
        for name, schema in schemas.items():
            validators[name] = jsonschema.Draft202012Validator(schema, registry=registry)
    except ImportError:  # Debian 12's jsonschema 4.10
        for name, schema in schemas.items():
            resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
            validators[name] = jsonschema.Draft202012Validator(schema, resolver=resolver)
    return validators


def first_error(validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(s) for s in e.absolute_path])
    if not errors:
        return None
    where = "/".join(str(step) for step in errors[0].absolute_path) or "(top)"
    return f"at {where}: {errors[0].message[:200]}"


def check_vectors(vectors_dir, validators):
    vectors = json.loads((vectors_dir / "wire_messages.json").read_text(encoding="utf-8"))
    problems = []
    counts = {"valid": 0, "unparsed": 0, "schema": 0, "words": 0}
    for group in vectors["testGroups"]:
        message = group["messageType"]
        if message not in validators:
            problems.append(f"{message}: no schema spec/schema/{message}.schema.json")
            continue
        validator = validators[message]
        for test in group["tests"]:
            text = bytes.fromhex(test["jsonHex"]) if "jsonHex" in test else test["json"]
            document = parse(text)
            error = None if document is None else first_error(validator, document)
            name = f"{test['id']} (tcId {test['tcId']})"
            if test["result"] == "valid":
                counts["valid"] += 1
                if document is None:
                    problems.append(f"{name}: valid, but not JSON text with unique members")
                elif error:
                    problems.append(f"{name}: valid, but its schema rejects it {error}")
            elif document is None:
                counts["unparsed"] += 1
            elif error:
                counts["schema"] += 1
            elif any(flag in WORD_RULES for flag in test["flags"]):
                counts["words"] += 1
            else:
                problems.append(f"{name}: invalid, but its schema accepts it and its flags "
                                f"{test['flags']} name no rule stated in words")
    print(f"check_schemas.py: {counts['valid']} valid vectors match their schemas; of the invalid "
          f"ones {counts['unparsed']} are not JSON text, {counts['schema']} fail their schemas, "
          f"{counts['words']} break a rule in words")
    return problems


def check_responses(records_dir, validators):
    problems = []
    records = 0
    seen_messages = set()
    for path in sorted(records_dir.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            record = json.loads(line)
            records += 1
            where = f"{path.name}:{number} {record['method']} {record['path']} -> {record['status']}"
            message = record["message"]
            if not message:
                problems.append(f"{where}: no message of its endpoint answers this status")
                continue
            if message == "chunk":
                continue
            document = parse(record["body"])
            if document is None:
                problems.append(f"{where}: the body is not JSON text with unique members")
                continue
            error = first_error(validators[message], document)
            if error:
                problems.append(f"{where}: {message} {error}")
            seen_messages.add(message)
    if records == 0:
        problems.append(f"no responses were recorded in {records_dir}")
    expected = {name for name in validators if name.endswith("Response") or name in (
        "ErrorBody", "TokenIssued", "TokenEntry", "KeyRecord", "FileStatus", "ChunkStored")}
    for name in sorted(expected - seen_messages):
        problems.append(f"no recorded response is a {name}: the suites no longer reach its endpoint")
    print(f"check_schemas.py: {records} recorded responses, {len(seen_messages)} message types")
    return problems


def self_test(validators):
    """Each check must fail on a message that breaks its schema; returns what did not."""
    problems = []
    page = {"after_seq": 0, "after_hash": "A" * 43, "head_seq": 0, "ops": [], "next_after_seq": None}
    if first_error(validators["OpsPageResponse"], page):
        problems.append("a valid empty page fails its schema")
    for broken in ({**page, "after_hash": "A" * 42}, {k: v for k, v in page.items() if k != "head_seq"},
                   {**page, "after_seq": -1}, {**page, "next_after_seq": 0}):
        if not first_error(validators["OpsPageResponse"], broken):
            problems.append(f"the page schema accepts {broken}")
    request = {"ops": [{"v": 1, "id": "A" * 22, "device_id": "A" * 22,
                        "hlc": {"wall_ms": 1, "counter": 0}, "key_id": 1, "payload": "A" * 38}]}
    if first_error(validators["UploadOpsRequest"], request):
        problems.append("a valid upload fails its schema")
    for edit in (lambda r: r.update(extra=1), lambda r: r["ops"][0]["hlc"].update(extra=1),
                 lambda r: r["ops"][0].update(payload="A" * 36), lambda r: r["ops"][0].update(id="A" * 21 + "B")):
        broken = json.loads(json.dumps(request))
        edit(broken)
        if not first_error(validators["UploadOpsRequest"], broken):
            problems.append(f"the upload schema accepts {broken}")
    error = {"error": {"code": "file_incomplete", "message": "m"}}
    if not first_error(validators["ErrorBody"], error):
        problems.append("the error schema accepts file_incomplete without details")
    return problems


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("vectors", "responses", "self-test"):
        sys.exit(__doc__)
    validators = load_schemas()
    if sys.argv[1] == "vectors":
        problems = check_vectors(pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else SPEC_DIR.parent / "vectors"),
                                 validators)
    elif sys.argv[1] == "responses":
        problems = check_responses(pathlib.Path(sys.argv[2]), validators)
    else:
        problems = self_test(validators)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_schemas.py: {len(problems)} problems")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
