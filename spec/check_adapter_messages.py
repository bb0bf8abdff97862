#!/usr/bin/python3
"""Checks the lines of opsync-client-adapter/1 (spec/client-adapter.md) against spec/schema/adapter/.

    check_adapter_messages.py self-test
        Every schema is a valid draft 2020-12 schema; hand-written messages of every kind pass,
        and deliberately broken ones (a missing type, an hlc in the wire's object form, bad
        base64url, an unknown command kind, ...) fail.
    check_adapter_messages.py session LOGDIR [--expect NAME,...]
        Every line recorded in LOGDIR (spec/tests/record_adapter.sh writes them): the files named
        in*.jsonl hold what the simulator wrote to an adapter, out*.jsonl what the adapter wrote
        back. Each line must be one JSON object (ADP-001) whose type names a message of its
        direction (ADP-002), and must match that message's schema; a state must also keep the
        rules of ADP-061 that a schema cannot state (the order of the heads, every referenced
        file listed). --expect names schemas (simulator-start, adapter-random, ...) of which at
        least one line must have been seen. A last line without its line end is what a kill
        (ADP-070) cut off the recording: it is counted, not judged.

Exits 1 on any failure, listing each one (file:line for a session). Needs the jsonschema module
(Debian: python3-jsonschema).
"""

import base64
import json
import pathlib
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    sys.exit("check_adapter_messages.py: the jsonschema module is missing; install python3-jsonschema")

SPEC_DIR = pathlib.Path(__file__).resolve().parent
SCHEMA_DIR = SPEC_DIR / "schema"
ADAPTER_DIR = SCHEMA_DIR / "adapter"

# The two directions of the protocol, and the prefix of their schemas' file names.
SIMULATOR = "simulator"  # lines the simulator writes to the adapter (section 3)
ADAPTER = "adapter"      # lines the adapter writes to the simulator (section 4)
TYPES = {
    SIMULATOR: ["start", "command", "http_response", "http_failure", "wake", "random", "continue"],
    ADAPTER: ["commit", "durable", "log", "random", "ready", "request", "wait", "result", "state"],
}


class Duplicate(Exception):
    pass


def no_duplicates(pairs):
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise Duplicate(f"the member {next(n for n in names if names.count(n) > 1)!r} repeats")
    return dict(pairs)


def load_validators():
    """Validators by schema name (simulator-start, adapter-state, ...), with every schema of
    spec/schema/ and spec/schema/adapter/ in one store so that references between files resolve."""
    store = {}
    names = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")) + sorted(ADAPTER_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        if schema.get("$id", "").rsplit("/", 1)[-1] != path.name:
            sys.exit(f"check_adapter_messages.py: {path.name}: $id does not end in the file's name")
        store[schema["$id"]] = schema
        if path.parent == ADAPTER_DIR:
            names[path.name[: -len(".schema.json")]] = schema
    validators = {}
    try:  # jsonschema 4.18 and later resolve references through a registry
        import referencing
        import referencing.jsonschema
        registry = referencing.Registry().with_resources(
            (uri, referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT202012))
            for uri, schema in store.items())
        for name, schema in names.items():
            validators[name] = jsonschema.Draft202012Validator(schema, registry=registry)
    except ImportError:  # Debian 12's jsonschema 4.10
        for name, schema in names.items():
            resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
            validators[name] = jsonschema.Draft202012Validator(schema, resolver=resolver)
    return validators


def schema_error(validator, document):
    """The most telling error of the document against the schema, or None."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(step) for step in error.absolute_path) or "(top)"
    return f"at {where}: {error.message[:300]}"


def b64_bytes(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def word_rules(direction, document):
    """Rules of a message that the text states and a schema cannot; the problems found."""
    problems = []
    if direction != ADAPTER or document.get("type") != "state":
        return problems
    try:
        return state_rules(document)
    except (KeyError, IndexError, TypeError, ValueError) as error:  # only when its schema let it through
        return [f"ADP-061: a state whose shape the rules in words cannot read: {error!r}"]


def state_rules(document):
    problems = []
    objects = document.get("objects", {})
    files = document.get("files", {})
    for key, heads in objects.items():
        order = [((h["hlc"][0], h["hlc"][1], b64_bytes(h["op_id"])), h["op_id"]) for h in heads]
        if order and order[0][0] != max(o for o, _ in order):
            problems.append(f"ADP-061: the first head of {key!r} ({order[0][1]}) is not its winner, the greatest "
                            f"by (hlc, op id)")
        keys = [o for o, _ in order]
        if keys != sorted(keys, reverse=True):
            listed = ", ".join(f"{h['hlc']} {h['op_id']}" for h in heads)
            problems.append(f"ADP-061: the heads of {key!r} are not in descending (hlc, op id) order: {listed}")
        for head in heads:
            for file_id in head["files"]:
                if file_id not in files:
                    problems.append(f"ADP-061: the file {file_id} of a head of {key!r} is missing from files")
    return problems


def check_message(validators, direction, document):
    """The problems of one parsed line of the direction; empty when it conforms."""
    if not isinstance(document, dict):
        return ["not a JSON object (ADP-001)"]
    kind = document.get("type")
    if not isinstance(kind, str):
        return ["no member type naming its kind (ADP-002)"]
    if kind not in TYPES[direction]:
        return [f"the type {kind!r} is no message of the {direction} (ADP-002, ADP-080)"]
    name = f"{direction}-{kind}"
    error = schema_error(validators[name], document)
    if error:
        return [f"{name} {error}"]
    return word_rules(direction, document)


def check_line(validators, direction, raw):
    """The problems of one line as bytes, without its line end, and its schema name when it has one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ["not UTF-8 (ADP-001)"], None
    if not text.strip():
        return ["an empty line (ADP-001: no line holds anything but one message)"], None
    if text.endswith("\r"):
        return ["a line ended by CR LF, not by a single LF (ADP-001)"], None
    try:
        document = json.loads(text, object_pairs_hook=no_duplicates)
    except Duplicate as duplicate:
        return [f"not one JSON object: {duplicate} (ADP-001)"], None
    except (ValueError, RecursionError) as error:
        return [f"not JSON text (ADP-001): {str(error)[:120]}"], None
    problems = check_message(validators, direction, document)
    kind = document.get("type") if isinstance(document, dict) else None
    return problems, f"{direction}-{kind}" if kind in TYPES[direction] else None


def direction_of(path):
    if path.name.startswith("in"):
        return SIMULATOR
    if path.name.startswith("out"):
        return ADAPTER
    return None


def check_session(log_dir, validators, expected=(), quiet=False):
    """Every recorded line under log_dir; returns the problems and prints a summary."""
    problems = []
    seen = {}
    lines = cut = 0
    paths = sorted(log_dir.rglob("*.jsonl"))
    for path in paths:
        direction = direction_of(path)
        where = path.relative_to(log_dir)
        if direction is None:
            problems.append(f"{where}: neither in*.jsonl (from the simulator) nor out*.jsonl (from the adapter)")
            continue
        data = path.read_bytes()
        pieces = data.split(b"\n")
        if pieces[-1]:
            cut += 1  # the recording was killed in the middle of a line
        for number, raw in enumerate(pieces[:-1], 1):
            lines += 1
            found, name = check_line(validators, direction, raw)
            if name:
                seen[name] = seen.get(name, 0) + 1
            for problem in found:
                problems.append(f"{where}:{number}: {problem}")
    if lines == 0:
        problems.append(f"no line was recorded under {log_dir}")
    for name in expected:
        if name not in validators:
            problems.append(f"--expect {name}: no such schema in spec/schema/adapter/")
        elif not seen.get(name):
            problems.append(f"no recorded line is a {name}")
    counts = ", ".join(f"{name} {count}" for name, count in sorted(seen.items()))
    if not quiet:
        print(f"check_adapter_messages.py: {lines} lines in {len(paths)} files ({cut} cut short by a kill): {counts}")
    return problems


# ---- self-test ---------------------------------------------------------------------------------

ID = "AAAAAAAAAAAAAAAAAAAAAA"       # 16 zero bytes
ID2 = "AQEBAQEBAQEBAQEBAQEBAQ"      # 16 bytes of 1
ID3 = "AgICAgICAgICAgICAgICAg"      # 16 bytes of 2
HASH = "A" * 43
NOW = {"wall_ms": 1764000000000, "monotonic_ms": 5000}


def valid_messages():
    """(direction, message) pairs that conform: at least one of every kind and command kind."""
    sim = [
        {"type": "start", "now": NOW, "protocol": "opsync-client-adapter/1", "device": "device-3",
         "dir": "/dev/shm/opsync-sim-x/device-3", "restarted": False,
         "options": {"page_ops_max": 0, "kdf_iterations": 1000, "backoff_unit_ms": 1000, "backoff_cap_ms": 64000,
                     "transport_attempts_max": 5},
         "turn_timeout_ms": 10000},
        {"type": "start", "now": NOW, "protocol": "opsync-client-adapter/1", "device": "device-0", "dir": "/tmp/d",
         "restarted": True, "options": {}, "turn_timeout_ms": 100},
        {"type": "command", "now": NOW, "command": "create", "server_url": "http://server", "password": "pw"},
        {"type": "command", "now": NOW, "command": "join", "server_url": "http://server", "workspace_id": ID,
         "token": "tok_abc", "password": "pw", "passphrase": "words words"},
        {"type": "command", "now": NOW, "command": "invite", "scope": "read_write"},
        {"type": "command", "now": NOW, "command": "revoke", "token_id": ID2},
        {"type": "command", "now": NOW, "command": "set_token", "token": "tok_new"},
        {"type": "command", "now": NOW, "command": "put", "key": "note/3", "value_b64": "aGk"},
        {"type": "command", "now": NOW, "command": "put", "key": "note/3", "value_b64": ""},
        {"type": "command", "now": NOW, "command": "delete", "key": "note/3"},
        {"type": "command", "now": NOW, "command": "attach", "key": "note/3", "name": "photo.jpg", "content_b64": "AAEC"},
        {"type": "command", "now": NOW, "command": "detach", "key": "note/3", "file_id": ID3},
        {"type": "command", "now": NOW, "command": "detach", "key": "note/3", "pick": 7},
        {"type": "command", "now": NOW, "command": "sync"},
        {"type": "command", "now": NOW, "command": "dump"},
        {"type": "http_response", "now": NOW, "status": 200,
         "headers": [["content-type", "application/json"], ["opsync-server-time-ms", "1764000000000"]],
         "body_b64": "e30"},
        {"type": "http_failure", "now": NOW, "what": "timeout", "message": "no answer in 30 s"},
        {"type": "http_failure", "now": NOW, "what": "refused", "message": ""},
        {"type": "wake", "now": NOW},
        {"type": "random", "bytes_b64": "AAECAw"},
        {"type": "continue"},
    ]
    adapter = [
        {"type": "commit", "op_id": ID, "key": "note/3", "kind": "put", "hlc": [1764000000000, 0], "heads_before": []},
        {"type": "commit", "op_id": ID, "key": "note/3", "kind": "attach", "hlc": [5, 4294967295],
         "heads_before": [ID2, ID3], "file_id": ID2},
        {"type": "durable", "step": "commit_pages"},
        {"type": "log", "text": "uploading 3 operations"},
        {"type": "random", "bytes": 16},
        {"type": "random", "bytes": 65536},
        {"type": "ready", "client": "example 1.0", "supports": ["page_ops_max", "durable", "random"]},
        {"type": "ready", "client": "example 1.0", "supports": [], "workspace_id": ID},
        {"type": "request", "method": "POST", "target": "/v1/workspaces/" + ID + "/ops?x=1",
         "headers": [["Authorization", "Bearer tok_abc"], ["Content-Type", "application/json"]], "body_b64": "e30"},
        {"type": "request", "method": "GET", "target": "/v1/info", "headers": [], "body_b64": ""},
        {"type": "wait", "until_monotonic_ms": 9000},
        {"type": "result", "ok": True},
        {"type": "result", "ok": True, "workspace_id": ID, "passphrase": "p", "owner_token": "tok_owner"},
        {"type": "result", "ok": True, "token": "tok_x", "token_id": ID2},
        {"type": "result", "ok": True, "file_id": ID3},
        {"type": "result", "ok": True, "committed": False},
        {"type": "result", "ok": True, "mirror": {"length": 3, "prefix_hash_b64": HASH}},
        {"type": "result", "ok": False, "error": {"code": "transport", "message": "retried 5 times"}},
        {"type": "result", "ok": False, "error": {"code": "token_revoked", "message": "", "field": "x"}},
        {"type": "state", "objects": {}, "files": {}, "pending": [], "rejected": []},
        {"type": "state",
         "objects": {"note/3": [
             {"op_id": ID3, "hlc": [9, 0], "deleted": False, "value_b64": "aGk", "files": [ID]},
             {"op_id": ID2, "hlc": [5, 0], "deleted": False, "value_b64": "", "files": []},
             {"op_id": ID, "hlc": [5, 0], "deleted": True, "value_b64": "", "files": []}]},
         "files": {ID: {"held": True, "content_b64": "AAEC", "kept_after_delete": False},
                   ID2: {"held": False, "kept_after_delete": True}},
         "pending": [{"op_id": ID3, "hlc": [9, 0]}], "rejected": [{"op_id": ID2, "hlc": [5, 0]}],
         "mirror": {"length": 0, "prefix_hash_b64": HASH}},
    ]
    return [(SIMULATOR, m) for m in sim] + [(ADAPTER, m) for m in adapter]


def broken_messages():
    """(what is wrong, direction, message) that must fail."""
    def edit(direction, kind, change, index=0):
        base = [m for d, m in valid_messages() if d == direction and m["type"] == kind][index]
        message = json.loads(json.dumps(base))
        change(message)
        return message

    def drop(name):
        return lambda m: m.pop(name)

    def put(name, value):
        return lambda m: m.update({name: value})

    def state_head(name, value):
        return lambda m: m["objects"]["note/3"][0].update({name: value})

    s, a = SIMULATOR, ADAPTER
    return [
        ("no type", s, edit(s, "wake", drop("type"))),
        ("no type", a, edit(a, "result", drop("type"))),
        ("a type that is not a string", a, edit(a, "wait", put("type", 3))),
        ("an unknown type", s, edit(s, "wake", put("type", "sleep"))),
        ("a type of the other direction", s, edit(s, "wake", put("type", "ready"))),
        ("a type of the other direction", a, {"type": "continue"}),
        ("dump as a type, not a command", s, {"type": "dump", "now": NOW}),
        ("an event without now", s, edit(s, "command", drop("now"), 0)),
        ("now without monotonic_ms", s, edit(s, "wake", put("now", {"wall_ms": 1}))),
        ("now as [wall, monotonic]", s, edit(s, "wake", put("now", [1, 2]))),
        ("a negative clock", s, edit(s, "wake", put("now", {"wall_ms": 1, "monotonic_ms": -1}))),
        ("another protocol", s, edit(s, "start", put("protocol", "opsync-client-adapter/2"))),
        ("start without dir", s, edit(s, "start", drop("dir"))),
        ("restarted as a string", s, edit(s, "start", put("restarted", "false"))),
        ("kdf_iterations 0", s, edit(s, "start", lambda m: m["options"].update(kdf_iterations=0))),
        ("an unknown command kind", s, edit(s, "command", put("command", "rename"))),
        ("a command without its kind", s, edit(s, "command", drop("command"))),
        ("create without password", s, edit(s, "command", drop("password"), 0)),
        ("join without passphrase", s, edit(s, "command", drop("passphrase"), 1)),
        ("join with a 21-character workspace id", s, edit(s, "command", put("workspace_id", ID[:21]), 1)),
        ("invite with an unknown scope", s, edit(s, "command", put("scope", "admin"), 2)),
        ("revoke with a non-canonical id", s, edit(s, "command", put("token_id", ID[:21] + "B"), 3)),
        ("set_token with a space in the token", s, edit(s, "command", put("token", "tok new"), 4)),
        ("put without value_b64", s, edit(s, "command", drop("value_b64"), 5)),
        ("put with padded base64", s, edit(s, "command", put("value_b64", "aGk="), 5)),
        ("put with standard base64 (+ and /)", s, edit(s, "command", put("value_b64", "a+/k"), 5)),
        ("put with non-canonical base64url (low bits set)", s, edit(s, "command", put("value_b64", "aGl"), 5)),
        ("put with an empty key", s, edit(s, "command", put("key", ""), 5)),
        ("attach without name", s, edit(s, "command", drop("name"), 8)),
        ("attach with a name holding /", s, edit(s, "command", put("name", "a/b"), 8)),
        ("detach with neither file_id nor pick", s, edit(s, "command", drop("file_id"), 9)),
        ("detach with a negative pick", s, edit(s, "command", put("pick", -1), 10)),
        ("http_response without headers", s, edit(s, "http_response", drop("headers"))),
        ("http_response with an upper-case header name", s,
         edit(s, "http_response", put("headers", [["Content-Type", "application/json"]]))),
        ("http_response with headers as an object", s, edit(s, "http_response", put("headers", {"a": "b"}))),
        ("http_response with a header of three items", s, edit(s, "http_response", put("headers", [["a", "b", "c"]]))),
        ("http_response with status 42", s, edit(s, "http_response", put("status", 42))),
        ("http_response with a body in hex", s, edit(s, "http_response", put("body_b64", "7b7d=="))),
        ("http_failure of an unknown kind", s, edit(s, "http_failure", put("what", "dns"))),
        ("http_failure without message", s, edit(s, "http_failure", drop("message"))),
        ("random answer without bytes", s, edit(s, "random", drop("bytes_b64"))),
        ("random answer of bad base64url", s, edit(s, "random", put("bytes_b64", "AAECAw=="))),
        ("commit with hlc in the wire's object form", a,
         edit(a, "commit", put("hlc", {"wall_ms": 1764000000000, "counter": 0}))),
        ("commit with hlc of three items", a, edit(a, "commit", put("hlc", [1, 0, 0]))),
        ("commit with hlc of one item", a, edit(a, "commit", put("hlc", [1]))),
        ("commit with a negative counter", a, edit(a, "commit", put("hlc", [1, -1]))),
        ("commit with a counter of 2^32", a, edit(a, "commit", put("hlc", [1, 4294967296]))),
        ("commit with wall_ms of 2^48", a, edit(a, "commit", put("hlc", [281474976710656, 0]))),
        ("commit with a fractional wall_ms", a, edit(a, "commit", put("hlc", [1.5, 0]))),
        ("commit of an unknown kind", a, edit(a, "commit", put("kind", "move"))),
        ("commit without heads_before", a, edit(a, "commit", drop("heads_before"))),
        ("commit with a head that is not an id", a, edit(a, "commit", put("heads_before", ["x"]))),
        ("durable without step", a, edit(a, "durable", drop("step"))),
        ("log with text that is not a string", a, edit(a, "log", put("text", ["a"]))),
        ("random ask of 0 bytes", a, edit(a, "random", put("bytes", 0))),
        ("random ask of 65537 bytes", a, edit(a, "random", put("bytes", 65537))),
        ("random ask of bytes as a string", a, edit(a, "random", put("bytes", "16"))),
        ("ready without supports", a, edit(a, "ready", drop("supports"))),
        ("ready with supports as a string", a, edit(a, "ready", put("supports", "random"))),
        ("request without body_b64", a, edit(a, "request", drop("body_b64"))),
        ("request with an absolute target", a, edit(a, "request", put("target", "http://server/v1/info"))),
        ("request with a header as a string", a, edit(a, "request", put("headers", ["Authorization: Bearer x"]))),
        ("wait with a negative reading", a, edit(a, "wait", put("until_monotonic_ms", -5))),
        ("wait without its reading", a, edit(a, "wait", drop("until_monotonic_ms"))),
        ("result without ok", a, edit(a, "result", drop("ok"))),
        ("result not ok without error", a, {"type": "result", "ok": False}),
        ("result ok with an error", a, edit(a, "result", put("error", {"code": "transport", "message": "m"}))),
        ("result with an error without message", a, {"type": "result", "ok": False, "error": {"code": "transport"}}),
        ("result with an error code in capitals", a,
         {"type": "result", "ok": False, "error": {"code": "TRANSPORT", "message": "m"}}),
        ("result with a code neither of section 2.3 nor of SYNC-022", a,
         {"type": "result", "ok": False, "error": {"code": "disk_full", "message": "m"}}),
        ("result with committed as a string", a, edit(a, "result", put("committed", "false"))),
        ("state without pending", a, edit(a, "state", drop("pending"))),
        ("state with a key without heads", a, edit(a, "state", lambda m: m["objects"].update({"k": []}), 1)),
        ("state head without deleted", a, edit(a, "state", lambda m: m["objects"]["note/3"][0].pop("deleted"), 1)),
        ("state head with hlc as an object", a, edit(a, "state", state_head("hlc", {"wall_ms": 9, "counter": 0}), 1)),
        ("state head with a bad value", a, edit(a, "state", state_head("value_b64", "a"), 1)),
        ("state file held without content", a, edit(a, "state", lambda m: m["files"][ID].pop("content_b64"), 1)),
        ("state file not held with content", a,
         edit(a, "state", lambda m: m["files"][ID2].update(content_b64="AAEC"), 1)),
        ("state file without kept_after_delete", a,
         edit(a, "state", lambda m: m["files"][ID].pop("kept_after_delete"), 1)),
        ("state files keyed by something not an id", a,
         edit(a, "state", lambda m: m["files"].update({"photo.jpg": {"held": False, "kept_after_delete": False}}), 1)),
        ("state pending with hlc as an object", a,
         edit(a, "state", lambda m: m["pending"][0].update(hlc={"wall_ms": 9, "counter": 0}), 1)),
        ("state mirror with a short hash", a, edit(a, "state", lambda m: m["mirror"].update(prefix_hash_b64="A"), 1)),
    ]


def word_broken_messages():
    """(what is wrong, message): states that match their schema but break a rule of ADP-061 in words."""
    def edit(change):
        message = json.loads(json.dumps([m for d, m in valid_messages() if m["type"] == "state"][1]))
        change(message)
        return message

    heads = lambda m: m["objects"]["note/3"]
    return [
        ("a conflict before the winner", edit(lambda m: heads(m).reverse())),
        ("the conflicts least first", edit(lambda m: heads(m).insert(1, heads(m).pop()))),
        ("a file a head references missing from files", edit(lambda m: m["files"].pop(ID))),
    ]


def self_test(validators):
    problems = []
    # Every kind of both directions has its schema, and the schemas of any line list exactly those.
    for direction, kinds in TYPES.items():
        for kind in kinds:
            if f"{direction}-{kind}" not in validators:
                problems.append(f"no schema spec/schema/adapter/{direction}-{kind}.schema.json")
        listed = validators[f"{direction}-message"].schema["properties"]["type"]["enum"]
        if sorted(listed) != sorted(kinds):
            problems.append(f"{direction}-message lists the types {listed}, not {kinds}")
    extra = set(validators) - {f"{d}-{k}" for d, ks in TYPES.items() for k in ks} - {
        "defs", "simulator-message", "adapter-message"}
    for name in sorted(extra):
        problems.append(f"spec/schema/adapter/{name}.schema.json is no message this checker knows")
    if problems:
        return problems

    valid = valid_messages()
    for direction, message in valid:
        for found in (check_message(validators, direction, message),
                      [schema_error(validators[f"{direction}-message"], message)] if schema_error(
                          validators[f"{direction}-message"], message) else []):
            for problem in found:
                problems.append(f"a valid {direction} message fails: {problem}: {json.dumps(message)[:200]}")
        # ADP-002: a member it does not know changes nothing.
        wider = {**message, "added_in_1_1": {"x": [1]}}
        if check_message(validators, direction, wider):
            problems.append(f"a {direction} {message['type']} with an unknown member fails (ADP-002)")
    kinds_seen = {(d, m["type"]) for d, m in valid}
    commands_seen = {m["command"] for d, m in valid if m["type"] == "command"}
    for direction, kinds in TYPES.items():
        for kind in kinds:
            if (direction, kind) not in kinds_seen:
                problems.append(f"self-test: no valid {direction} {kind} message")
    for kind in validators["simulator-command"].schema["properties"]["command"]["enum"]:
        if kind not in commands_seen:
            problems.append(f"self-test: no valid command {kind}")

    broken = broken_messages()
    for what, direction, message in broken:
        if not check_message(validators, direction, message):
            problems.append(f"{what}: accepted: {json.dumps(message)[:200]}")
        # What a schema can state, the schema of any line of its direction catches too.
        if not schema_error(validators[f"{direction}-message"], message):
            problems.append(f"{what}: accepted by {direction}-message: {json.dumps(message)[:200]}")
    words = word_broken_messages()
    for what, message in words:
        if schema_error(validators["adapter-state"], message):
            problems.append(f"state with {what}: the schema rejects it, so it is no test of the rules in words")
        if not word_rules(ADAPTER, message):
            problems.append(f"state with {what}: accepted")

    # Lines: what is not one JSON object is caught before any schema.
    for raw, what in ((b"", "an empty line"), (b"[1, 2]", "an array"), (b'{"type": "wake", "type": "wake"}', "a repeated member"),
                      (b'{"type": "continue"', "a cut line"),
                      (b'{"type": "continue"}\r', "ended by CR LF"), (b"\xff\xfe", "not UTF-8"), (b"null", "null")):
        if not check_line(validators, SIMULATOR, raw)[0]:
            problems.append(f"a line that is {what} is accepted")

    # A session: the failures name file and line, a cut last line is only counted.
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "session-a").mkdir()
        sim_lines = [json.dumps(m) for d, m in valid if d == SIMULATOR]
        adapter_lines = [json.dumps(m) for d, m in valid if d == ADAPTER]
        (root / "session-a" / "in.jsonl").write_text("\n".join(sim_lines) + "\n", encoding="utf-8")
        (root / "session-a" / "out.jsonl").write_text("\n".join(adapter_lines) + '\n{"type": "lo', encoding="utf-8")
        clean = check_session(root, validators, ["simulator-start", "adapter-state"], quiet=True)
        if clean:
            problems.append(f"a clean recorded session fails: {clean}")
        (root / "broken").mkdir()
        (root / "broken" / "out-7.jsonl").write_text(
            '{"type": "wait"}\n{"type": "log", "text": "x"}\n{"type": "ready"}\n', encoding="utf-8")
        found = check_session(root / "broken", validators, ["simulator-wake", "adapter-log", "adapter-nothing"],
                              quiet=True)
        wanted = ["out-7.jsonl:1: adapter-wait", "out-7.jsonl:3: adapter-ready", "no recorded line is a simulator-wake",
                  "--expect adapter-nothing"]
        for want in wanted:
            if not any(p.startswith(want) for p in found):
                problems.append(f"a broken recorded session does not report {want!r}: {found}")
        if len(found) != len(wanted):
            problems.append(f"a broken recorded session reports {len(found)} problems, not {len(wanted)}: {found}")
    if not problems:
        print(f"check_adapter_messages.py: {len(validators)} schemas; {len(valid)} valid messages pass, "
              f"{len(broken)} broken ones fail their schemas, {len(words)} break a rule in words")
    return problems


def main():
    args = sys.argv[1:]
    if not args or args[0] not in ("self-test", "session") or (args[0] == "session" and len(args) not in (2, 4)) or (
            len(args) == 4 and args[2] != "--expect"):
        sys.exit(__doc__)
    validators = load_validators()
    if args[0] == "self-test":
        problems = self_test(validators)
    else:
        log_dir = pathlib.Path(args[1])
        if not log_dir.is_dir():
            sys.exit(f"check_adapter_messages.py: {log_dir} is not a directory")
        expected = [name for name in args[3].split(",") if name] if len(args) == 4 else []
        problems = check_session(log_dir, validators, expected)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_adapter_messages.py: {len(problems)} problems")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
