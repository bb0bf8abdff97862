"""Runs the client over the language-neutral vectors of ``vectors/*.json``.

``run_all(vectors_dir)`` returns {file name: [Result]}; each file has a checker that dispatches
on the group type as the file's header describes. ``python3 tests/vector_runner.py [DIR]``
prints a summary per file and every failure by test id.

Invalid cases must be rejected; where the vector names an ``errorCode`` (and ``errorField``),
the client's code and field must match it too. The strict flag ``codes`` is on for every file:
the client reports the same codes as the reference library, the spec's where it fixes one.
"""

import itertools
import json
import os
import random
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from opsync import b64, crypto, diff, filemath, hlc, lww, messages  # noqa: E402
from opsync import ops as opsmod  # noqa: E402
from opsync.errors import OpSyncError  # noqa: E402
from opsync.strictjson import parse  # noqa: E402


@dataclass
class Result:
    test_id: str
    ok: bool
    detail: str = ""


def _hex(text):
    return bytes.fromhex(text)


class _Checker:
    def __init__(self, options=None):
        self.results = []
        self.options = options or {}

    def record(self, test, ok, detail=""):
        self.results.append(Result(test["id"], ok, detail))

    def expect_error(self, test, call):
        """An invalid case: ``call`` must raise an OpSyncError with the vector's code/field."""
        try:
            call()
        except OpSyncError as error:
            want_code = test.get("errorCode")
            want_field = test.get("errorField")
            if want_code is not None and error.code != want_code:
                return self.record(test, False, f"code {error.code!r}, expected {want_code!r}: {error}")
            if want_field is not None and error.field != want_field:
                return self.record(test, False, f"field {error.field!r}, expected {want_field!r}")
            return self.record(test, True)
        self.record(test, False, "accepted, expected a rejection")


def check_op_encoding(data, checker):
    for group in data["testGroups"]:
        for test in group["tests"]:
            if group["type"] == "OpEncodingTest":
                o = test["op"]
                op = opsmod.Op(_hex(o["id"]), _hex(o["device_id"]), o["hlc"]["wall_ms"],
                               o["hlc"]["counter"], o["key_id"], _hex(o["payload"]), o["v"])
                encoding = op.encoding()
                ok = encoding.hex() == test["encoding"] and op.hash().hex() == test["hash"]
                decoded = opsmod.decode_op(encoding)
                ok = ok and decoded == op
                checker.record(test, ok, "" if ok else "encoding, hash or decoding differs")
            elif group["type"] == "OpDecodingTest":
                checker.expect_error(test, lambda: opsmod.decode_op(_hex(test["encoding"])))
            else:
                checker.record(test, False, f"unknown group type {group['type']}")


def check_block_hashes(data, checker):
    for group in data["testGroups"]:
        size = group["blockSize"]
        for test in group["tests"]:
            if group["type"] == "OperationLogTest":
                wire = json.dumps({"ops": test["ops"]})
                ops = [opsmod.Op.from_wire(o) for o in messages.parse_message("UploadOpsRequest", wire)["ops"]]
                op_hashes = [op.hash() for op in ops]
                if "opHashes" in test and [h.hex() for h in op_hashes] != test["opHashes"]:
                    checker.record(test, False, "op hashes differ")
                    continue
            else:
                op_hashes = [_hex(h) for h in test["opHashes"]]
            blocks = [h.hex() for h in opsmod.block_hashes(op_hashes, size)]
            if test["result"] == "invalid":
                ok = blocks != test["blockHashes"]
                checker.record(test, ok, "" if ok else "a wrongly computed list was reproduced")
                continue
            ok = blocks == test["blockHashes"]
            prefixes = opsmod.prefix_hashes(op_hashes, size)
            for item in test.get("prefixHashes", []):
                ok = ok and prefixes[item["position"]].hex() == item["hash"]
            # The incremental hasher, resumed at every position, must agree with the whole run.
            for position in range(len(op_hashes) + 1):
                boundary = position - position % size  # the last block end at or before it
                resumed = opsmod.PrefixHasher(size, position, prefixes[boundary],
                                              op_hashes[boundary:position])
                ok = ok and resumed.current == prefixes[position]
                for later in range(position, len(op_hashes)):
                    ok = ok and resumed.add(op_hashes[later]) == prefixes[later + 1]
                    if later - position > 2 * size:
                        break
            checker.record(test, ok, "" if ok else "block or prefix hashes differ")


def _diff_ops(items):
    return [(_hex(item["id"]), _hex(item["hash"])) for item in items]


def check_diff_plans(data, checker):
    for group in data["testGroups"]:
        size = group["blockSize"]
        for test in group["tests"]:
            mirror, outbox, server = (_diff_ops(test[k]) for k in ("mirror", "outbox", "server"))
            if test["result"] == "invalid":
                checker.expect_error(test, lambda: diff.plan_diff(mirror, outbox, server, size))
                continue
            try:
                plan = diff.plan_diff(mirror, outbox, server, size)
            except OpSyncError as error:
                checker.record(test, False, f"raised {error}")
                continue
            want = test["plan"]
            got = {"diverged": plan.diverged, "verifiedPrefix": plan.verified_prefix,
                   "apply": [i.hex() for i in plan.apply],
                   "acknowledge": [i.hex() for i in plan.acknowledge],
                   "upload": [i.hex() for i in plan.upload]}
            checker.record(test, got == want, "" if got == want else f"got {got}")


def _ts(member):
    return hlc.Timestamp(member["wall_ms"], member["counter"])


def check_hlc(data, checker):
    for group in data["testGroups"]:
        for test in group["tests"]:
            kind = group["type"]
            if kind == "HlcSequenceTest":
                clock = _ts(test["initial"])
                ok = True
                for step in test["steps"]:
                    if step["action"] == "stamp":
                        clock = hlc.stamp(clock, step["physicalMs"])
                    else:
                        clock = hlc.observe(clock, _ts(step["remote"]), step["physicalMs"])
                    ok = ok and clock == _ts(step["expected"])
                checker.record(test, ok, "" if ok else "clock differs")
            elif kind == "ServerSkewTest":
                got = hlc.server_accepts(_ts(test["stamp"]), test["serverNowMs"], test["maxSkewMs"])
                checker.record(test, got == test["accepted"])
            elif kind == "HlcInputTest":
                op = {"v": 1, "id": b64.encode(bytes(16)), "device_id": b64.encode(bytes(16)),
                      "hlc": test["remote"], "key_id": 1, "payload": b64.encode(bytes(28))}
                call = lambda op=op: messages.check_tree(messages.OP, parse(json.dumps(op)))  # noqa: E731
                if test["result"] == "valid":
                    try:
                        call()
                        checker.record(test, True)
                    except OpSyncError as error:
                        checker.record(test, False, str(error))
                else:
                    checker.expect_error(test, call)
                    # The op_encoding decoder must refuse the same timestamp where it can carry it.
                    remote = test["remote"]
                    if remote["wall_ms"] < 2**64 and remote["counter"] < 2**32 and checker.results[-1].ok:
                        encoding = opsmod.op_header(1, bytes(16), bytes(16), remote["wall_ms"],
                                                    remote["counter"], 1) + (28).to_bytes(4, "big") + bytes(28)
                        try:
                            opsmod.decode_op(encoding)
                            checker.results[-1] = Result(test["id"], False, "decode_op accepted it")
                        except OpSyncError:
                            pass
            else:
                checker.record(test, False, f"unknown group type {kind}")


def _lww_op(item, arrival):
    p = item["payload"]
    return lww.KeyOp(id=_hex(item["id"]), wall_ms=item["hlc"]["wall_ms"], counter=item["hlc"]["counter"],
                     type=p["type"], key=p["key"], bases=tuple(_hex(b) for b in p["bases"]),
                     value=_hex(p["value"]) if "value" in p else None, arrival=arrival)


def _orders(n, rng):
    if n <= 6:
        return list(itertools.permutations(range(n)))
    orders = [tuple(range(n)), tuple(reversed(range(n)))]
    for _ in range(200):
        order = list(range(n))
        rng.shuffle(order)
        orders.append(tuple(order))
    return orders


def lww_state(items_in_order, strict_less_defect=False):
    ops = [_lww_op(item, arrival) for arrival, item in enumerate(items_in_order)]
    states = lww.resolve_all(ops, strict_less_defect)
    return {key: {"winner": s.winner.id.hex() if s.winner else None, "present": s.present,
                  "conflicts": sorted(c.id.hex() for c in s.conflicts)} for key, s in states.items()}


def check_lww(data, checker, apply_in_order=None):
    """``apply_in_order(items) -> state`` may replace the pure function (the store uses it)."""
    apply_in_order = apply_in_order or (lambda items: lww_state(
        items, checker.options.get("strict_less_defect", False)))
    rng = random.Random(19)
    for group in data["testGroups"]:
        for test in group["tests"]:
            if group["type"] == "LwwResolutionTest":
                want = {key: {"winner": s["winner"], "present": s["present"],
                              "conflicts": sorted(s["conflicts"])} for key, s in test["state"].items()}
                items = test["ops"]
                detail = ""
                for order in _orders(len(items), rng):
                    ordered = [items[i] for i in order]
                    for run in (ordered, ordered + ordered):  # every operation applied twice
                        got = apply_in_order(run)
                        if got != want:
                            detail = f"order {order}: got {got}"
                            break
                    if detail:
                        break
                checker.record(test, not detail, detail)
            elif group["type"] == "PayloadParseTest":
                call = lambda: messages.parse_message("Payload", test["payloadJson"].encode("utf-8"))  # noqa: E731
                if test["result"] == "invalid":
                    checker.expect_error(test, call)
                    continue
                try:
                    got = call()
                except OpSyncError as error:
                    checker.record(test, False, str(error))
                    continue
                want = test["payload"]
                ok = got["type"] == want["type"] and got["key"] == want["key"] and \
                    [b.hex() for b in got["bases"]] == want["bases"]
                if "value" in want:
                    ok = ok and got["value"].hex() == want["value"]
                    ok = ok and len(got["files"]) == len(want["files"])
                    for ref, ref_want in zip(got["files"], want["files"]):
                        ok = ok and ref["id"].hex() == ref_want["id"] and ref["name"] == ref_want["name"] \
                            and ref["size_bytes"] == ref_want["size_bytes"] \
                            and ref["chunk_bytes"] == ref_want["chunk_bytes"] \
                            and ref["chunk_count"] == ref_want["chunk_count"] \
                            and ref["sha256"].hex() == ref_want["sha256"]
                else:
                    ok = ok and "value" not in got and "files" not in got
                checker.record(test, ok, "" if ok else f"parsed {got}")
            else:
                checker.record(test, False, f"unknown group type {group['type']}")


def check_file_reconciliation(data, checker):
    for group in data["testGroups"]:
        for test in group["tests"]:
            kind = group["type"]
            if kind == "FileActionTest":
                got = filemath.file_action(test["localCopy"] == "present", test["uploadFlag"],
                                           test["serverState"])
                checker.record(test, got == test["action"], f"got {got}")
            elif kind == "ChunkCountTest":
                count = filemath.chunk_count(test["sizeBytes"], test["chunkBytes"])
                last = filemath.chunk_size(test["sizeBytes"], test["chunkBytes"], count - 1)
                ok = count == test["chunkCount"] and last == test["lastChunkBytes"]
                checker.record(test, ok, f"got {count}, last {last}")
            elif kind == "MissingRangesTest":
                got = [list(r) for r in filemath.missing_ranges(test["chunkCount"], test["presentChunks"])]
                checker.record(test, got == test["chunksMissing"], f"got {got}")
            elif kind == "FileStatusParseTest":
                call = lambda: messages.parse_message("FileStatus", test["json"].encode("utf-8"))  # noqa: E731
                if test["result"] == "invalid":
                    checker.expect_error(test, call)
                    continue
                try:
                    got = call()
                    ok = [list(r) for r in got["chunks_missing"]] == test["chunksMissing"]
                    checker.record(test, ok, f"got {got}")
                except OpSyncError as error:
                    checker.record(test, False, str(error))
            else:
                checker.record(test, False, f"unknown group type {kind}")


def check_key_derivation(data, checker):
    for group in data["testGroups"]:
        for test in group["tests"]:
            password = _hex(test["passwordHex"]).decode("utf-8")
            passphrase = _hex(test["passphraseHex"]).decode("utf-8")
            ok_inputs = password == test["password"] and passphrase == test["passphrase"]
            kek = crypto.derive_kek(password, passphrase, test["iterations"]).hex()
            if test["result"] == "valid":
                checker.record(test, ok_inputs and kek == test["kek"], "KEK differs")
            else:
                checker.record(test, kek != test["kek"], "a wrongly derived KEK was reproduced")


def check_key_wrap(data, checker):
    for group in data["testGroups"]:
        kek = _hex(group["kek"])
        for test in group["tests"]:
            workspace_id, key_id, wrapped = _hex(test["workspaceId"]), test["keyId"], _hex(test["wrappedKey"])
            if test["result"] == "invalid":
                checker.expect_error(test, lambda: crypto.unwrap_key(kek, wrapped, workspace_id, key_id))
                continue
            got = crypto.wrap_key(kek, _hex(test["dataKey"]), workspace_id, key_id, _hex(test["nonce"]))
            ok = got == wrapped and crypto.key_wrap_ad(workspace_id, key_id).hex() == test["ad"]
            ok = ok and crypto.unwrap_key(kek, wrapped, workspace_id, key_id).hex() == test["dataKey"]
            checker.record(test, ok, "wrapped key differs")


def check_op_envelope(data, checker):
    for group in data["testGroups"]:
        data_key = _hex(group["dataKey"])
        key = crypto.op_key(data_key)
        key_ok = key.hex() == group["opKey"]
        for test in group["tests"]:
            o = test["op"]
            header = opsmod.op_header(o["v"], _hex(o["id"]), _hex(o["device_id"]), o["hlc"]["wall_ms"],
                                      o["hlc"]["counter"], o["key_id"])
            ad = crypto.op_payload_ad(header)
            payload = _hex(test["payload"])
            if test["result"] == "invalid":
                checker.expect_error(test, lambda: crypto.open_envelope(key, payload, ad))
                continue
            plaintext = test["plaintext"].encode("utf-8")
            sealed = crypto.seal(key, _hex(test["nonce"]), plaintext, ad)
            op = opsmod.Op(_hex(o["id"]), _hex(o["device_id"]), o["hlc"]["wall_ms"], o["hlc"]["counter"],
                           o["key_id"], sealed, o["v"])
            ok = key_ok and ad.hex() == test["ad"] and sealed == payload and \
                crypto.open_envelope(key, payload, ad) == plaintext and op.hash().hex() == test["opHash"]
            # The payload plaintext must also be one this client accepts (10.1).
            messages.parse_message("Payload", plaintext)
            checker.record(test, ok, "envelope or op hash differs")


def check_file_chunk_envelope(data, checker):
    for group in data["testGroups"]:
        key = crypto.chunk_key(_hex(group["dataKey"]))
        key_ok = key.hex() == group["chunkKey"]
        for test in group["tests"]:
            ad = crypto.chunk_ad(_hex(test["fileId"]), test["chunkIndex"], test["chunkCount"])
            envelope = _hex(test["envelope"])
            if test["result"] == "invalid":
                checker.expect_error(test, lambda: crypto.open_envelope(key, envelope, ad))
                continue
            sealed = crypto.seal(key, _hex(test["nonce"]), _hex(test["plaintext"]), ad)
            ok = key_ok and ad.hex() == test["ad"] and sealed == envelope and \
                crypto.open_envelope(key, envelope, ad).hex() == test["plaintext"]
            checker.record(test, ok, "envelope differs")


def check_wire_messages(data, checker):
    for group in data["testGroups"]:
        name = group["messageType"]
        for test in group["tests"]:
            text = _hex(test["jsonHex"]) if "jsonHex" in test else test["json"].encode("utf-8")
            call = lambda: messages.parse_message(name, text)  # noqa: E731
            if test["result"] == "invalid":
                checker.expect_error(test, call)
            else:
                try:
                    call()
                    checker.record(test, True)
                except OpSyncError as error:
                    checker.record(test, False, str(error))


CHECKERS = {
    "op_encoding.json": check_op_encoding,
    "block_hashes.json": check_block_hashes,
    "diff_plans.json": check_diff_plans,
    "hlc.json": check_hlc,
    "lww.json": check_lww,
    "file_reconciliation.json": check_file_reconciliation,
    "key_derivation.json": check_key_derivation,
    "key_wrap.json": check_key_wrap,
    "op_envelope.json": check_op_envelope,
    "file_chunk_envelope.json": check_file_chunk_envelope,
    "wire_messages.json": check_wire_messages,
}


def run_file(path, options=None):
    with open(path, "rb") as handle:
        data = json.load(handle)
    checker = _Checker(options)
    CHECKERS[os.path.basename(path)](data, checker)
    return data, checker.results


def run_all(vectors_dir, options=None):
    out = {}
    for name in sorted(os.listdir(vectors_dir)):
        if name.endswith(".json"):
            if name not in CHECKERS:
                out[name] = None  # a file this runner does not know: reported, never skipped
                continue
            data, results = run_file(os.path.join(vectors_dir, name), options)
            out[name] = (data["numberOfTests"], results)
    return out


def main(argv):
    vectors_dir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "vectors")
    failed = 0
    for name, entry in run_all(vectors_dir).items():
        if entry is None:
            print(f"{name}: NOT RUN (no checker)")
            failed += 1
            continue
        expected, results = entry
        bad = [r for r in results if not r.ok]
        print(f"{name}: {len(results) - len(bad)}/{len(results)} passed (file declares {expected})")
        for r in bad:
            print(f"  FAIL {r.test_id}: {r.detail}")
        failed += len(bad) + (expected != len(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
