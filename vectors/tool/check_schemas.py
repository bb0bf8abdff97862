#!/usr/bin/python3
"""Validates every vector file in a directory against the JSON Schema it names.

    check_schemas.py [VECTORS_DIR]     (default: the vectors/ directory holding this script)

Each vector file names its schema in its "schema" member, relative to the vectors directory.
Every schema must itself be a valid draft 2020-12 schema, every vector file must name an
existing schema and match it, and every schema must belong to a vector file. Exits 1 on any
failure, listing each one. Needs the jsonschema module (Debian: python3-jsonschema).
"""

import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_schemas.py: the jsonschema module is missing; install python3-jsonschema")


def validate_file(vectors_dir, vector_path, used_schemas):
    """Returns the problems found with one vector file, as strings."""
    try:
        vectors = json.loads(vector_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"{vector_path.name}: cannot be read as JSON: {error}"]
    schema_name = vectors.get("schema") if isinstance(vectors, dict) else None
    if not isinstance(schema_name, str):
        return [f"{vector_path.name}: has no \"schema\" member naming its schema"]
    schema_path = (vectors_dir / schema_name).resolve()
    used_schemas.add(schema_path)
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"{vector_path.name}: its schema {schema_name} cannot be read: {error}"]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return [f"{schema_name}: not a valid draft 2020-12 schema: {error.message}"]
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    # A member that breaks its rule also leaves its object with "unevaluated" members; the
    # specific error comes first.
    errors = sorted(validator.iter_errors(vectors),
                    key=lambda e: (e.validator == "unevaluatedProperties", [str(s) for s in e.absolute_path]))
    for error in errors:
        where = "/".join(str(step) for step in error.absolute_path) or "(top)"
        problems.append(f"{vector_path.name}: at {where}: {error.message[:300]}")
    return problems


def main():
    vectors_dir = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
    vector_paths = sorted(vectors_dir.glob("*.json"))
    if not vector_paths:
        sys.exit(f"check_schemas.py: no vector files in {vectors_dir}")
    used_schemas = set()
    problems = []
    for vector_path in vector_paths:
        file_problems = validate_file(vectors_dir, vector_path, used_schemas)
        problems += file_problems
        print(f"{'FAIL' if file_problems else 'ok  '} {vector_path.name}")
    for schema_path in sorted((vectors_dir / "schema").glob("*.schema.json")):
        if schema_path.resolve() not in used_schemas:
            problems.append(f"schema/{schema_path.name}: no vector file uses it")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"check_schemas.py: {len(vector_paths)} vector files, "
          f"{len(problems) if problems else 'no'} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
