"""The client over every language-neutral vector in vectors/*.json (and the schema drift check)."""

import json
import os
import shutil
import tempfile
import unittest

import vector_runner
from support import ROOT

from opsync import messages
from opsync.store import Store

VECTORS = os.path.join(ROOT, "vectors")
SCHEMAS = os.path.join(ROOT, "spec", "schema")


class VectorFilesTest(unittest.TestCase):
    def test_every_vector_file_passes(self):
        results = vector_runner.run_all(VECTORS)
        self.assertGreaterEqual(len(results), 11)
        for name, entry in results.items():
            with self.subTest(file=name):
                self.assertIsNotNone(entry, f"{name} has no checker: every vector file applies to a client")
                declared, cases = entry
                self.assertEqual(len(cases), declared, f"{name}: ran {len(cases)} of {declared} cases")
                failures = [f"{r.test_id}: {r.detail}" for r in cases if not r.ok]
                self.assertEqual(failures, [])

    def test_a_broken_resolution_fails_the_lww_vectors(self):
        """The companion: the Dataans strict '<' (the lww-strict-less defect) must fail."""
        _, cases = vector_runner.run_file(os.path.join(VECTORS, "lww.json"), {"strict_less_defect": True})
        failed = [r.test_id for r in cases if not r.ok]
        self.assertIn("lww/id-breaks-full-tie", failed)

    def test_a_tampered_expectation_fails(self):
        """The runner compares: a vector whose expected output is changed must fail."""
        with open(os.path.join(VECTORS, "hlc.json")) as handle:
            data = json.load(handle)
        step = data["testGroups"][0]["tests"][0]["steps"][0]
        step["expected"]["counter"] += 1
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "hlc.json")
        with open(path, "w") as handle:
            json.dump(data, handle)
        _, cases = vector_runner.run_file(path)
        self.assertFalse(cases[0].ok)


class LwwThroughTheStoreTest(unittest.TestCase):
    """The store's SQL resolution (what the client shows) over the lww vectors, every order."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.store = Store(self.directory)
        self.addCleanup(self.store.close)

    def state_via_store(self, items, strict_less=False):
        db = self.store.db
        db.execute("BEGIN")
        try:
            for item in items:
                p = item["payload"]
                payload = {"type": p["type"], "key": p["key"], "bases": [bytes.fromhex(b) for b in p["bases"]]}
                if "value" in p:
                    payload["value"] = bytes.fromhex(p["value"])
                    payload["files"] = []
                self.store.apply_object_op(bytes.fromhex(item["id"]), 1, item["hlc"]["wall_ms"],
                                           item["hlc"]["counter"], payload)
            state = {}
            for key in self.store.keys():
                heads = self.store.heads(key, strict_less)
                winner = heads[0] if heads else None
                state[key] = {"winner": winner.op_id.hex() if winner else None,
                              "present": winner is not None and winner.type == "put",
                              "conflicts": sorted(h.op_id.hex() for h in heads[1:])}
            return state
        finally:
            db.execute("ROLLBACK")

    def run_lww(self, strict_less=False):
        with open(os.path.join(VECTORS, "lww.json")) as handle:
            data = json.load(handle)
        checker = vector_runner._Checker()
        data["testGroups"] = [g for g in data["testGroups"] if g["type"] == "LwwResolutionTest"]
        vector_runner.check_lww(data, checker, lambda items: self.state_via_store(items, strict_less))
        return checker.results

    def test_store_resolution_matches_every_vector(self):
        results = self.run_lww()
        self.assertGreater(len(results), 20)
        self.assertEqual([f"{r.test_id}: {r.detail}" for r in results if not r.ok], [])

    def test_store_with_the_strict_less_defect_fails(self):
        results = self.run_lww(strict_less=True)
        self.assertIn("lww/id-breaks-full-tie", [r.test_id for r in results if not r.ok])


def _schema_object(schema, schemas):
    """The object schema with ``properties`` that ``schema`` is or refers to, and whether any
    level on the way forbids unknown members."""
    strict = False
    while True:
        strict = strict or schema.get("additionalProperties", True) is False or \
            schema.get("unevaluatedProperties", True) is False
        if "$ref" in schema:
            file_part, _, pointer = schema["$ref"].partition("#")
            target = schemas[file_part] if file_part else schema.get("__file__")
            node = target
            for part in [p for p in pointer.split("/") if p]:
                node = node[part]
            schema = dict(node, __file__=target)
        elif "allOf" in schema and "properties" not in schema:
            schema = dict(schema["allOf"][0], __file__=schema.get("__file__"))
        else:
            return schema, strict


class SchemaDriftTest(unittest.TestCase):
    """messages.py describes each message in its schema's member order (ERR-014 depends on it):
    the member names, their order, which are required, and strictness must match spec/schema/."""

    def drift(self):
        """One line per message whose description differs from its schema."""
        schemas = {}
        for name in os.listdir(SCHEMAS):
            if not name.endswith(".schema.json"):  # schema/adapter/ holds another protocol's schemas
                continue
            with open(os.path.join(SCHEMAS, name)) as handle:
                schemas[name] = json.load(handle)
        for schema in schemas.values():
            schema["__file__"] = schema
        out = []
        for message, description in messages.MESSAGES.items():
            try:
                self.compare(message, description, dict(schemas[f"{message}.schema.json"]), schemas)
            except (AssertionError, KeyError) as error:
                out.append(f"{message}: {error}")
        return out

    def test_members_match_the_schemas(self):
        self.assertEqual(len(messages.MESSAGES), 24)
        self.assertEqual(self.drift(), [])

    def compare(self, path, description, schema, schemas):
        schema, strict = _schema_object(schema, schemas)
        properties = schema.get("properties", {})
        self.assertEqual([p[0] for p in description.props], list(properties), f"{path}: member order")
        required = set(schema.get("required", []))
        for name, kind, needed in description.props:
            if needed is True:
                self.assertIn(name, required, f"{path}.{name} required here, not in the schema")
            elif needed is False:
                self.assertNotIn(name, required, f"{path}.{name} optional here, required in the schema")
            member = dict(properties[name], __file__=schema.get("__file__"))
            if isinstance(kind, messages.Obj):
                self.compare(f"{path}.{name}", kind, member, schemas)
            elif isinstance(kind, messages.Arr) and isinstance(kind.items, messages.Obj):
                array, _ = _schema_object(member, schemas)
                self.compare(f"{path}.{name}[]", kind.items,
                             dict(array["items"], __file__=array.get("__file__")), schemas)
        self.assertEqual(description.strict, strict, f"{path}: unknown members rejected or ignored")

    def test_drift_is_caught(self):
        """The companion: a description with two members swapped must not pass."""
        original = messages.MESSAGES["CreateTokenRequest"].props
        messages.MESSAGES["CreateTokenRequest"].props = list(reversed(original))
        try:
            self.assertEqual(len(self.drift()), 1)
        finally:
            messages.MESSAGES["CreateTokenRequest"].props = original


if __name__ == "__main__":
    unittest.main()
