#!/usr/bin/python3
"""Proves that `opsync-vectors verify` is not vacuous: it must fail on tampered vector files.

    check_tampering.py OPSYNC_VECTORS VECTORS_DIR

Copies the vector files to a temporary directory, checks that they verify, then for each
tampering below changes one expected output (or one structural property) in a fresh copy and
requires verify to fail, naming the file and, for a test case, its id. Exits 1 if verify misses
any tampering.
"""

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile


def flip_hex_digit(text, index=-1):
    """The hex text with one digit changed: one expected byte differs."""
    digits = list(text)
    digits[index] = "0" if digits[index] != "0" else "1"
    return "".join(digits)


def find_test(vectors, test_id):
    for group in vectors["testGroups"]:
        for test in group["tests"]:
            if test["id"] == test_id:
                return test
    raise KeyError(f"no test case {test_id}: update check_tampering.py")


def change_test(test_id, change):
    """A tampering of one test case; `change` edits the test case in place."""
    return lambda vectors: change(find_test(vectors, test_id))


def set_member(name, value):
    def change(test):
        test[name] = value
    return change


def flip_member(name):
    def change(test):
        test[name] = flip_hex_digit(test[name])
    return change


def change_last_step(test):
    test["steps"][-1]["expected"]["counter"] += 1


def flip_upload(test):
    test["plan"]["upload"][0] = flip_hex_digit(test["plan"]["upload"][0])


def flip_prefix_hash(test):
    test["prefixHashes"][-1]["hash"] = flip_hex_digit(test["prefixHashes"][-1]["hash"], 0)


def flip_winner(test):
    state = next(iter(test["state"].values()))
    state["winner"] = flip_hex_digit(state["winner"])


def miscount(vectors):
    vectors["numberOfTests"] += 1


# (file, what is changed, the test id verify must name or None, the change)
TAMPERINGS = [
    ("op_encoding.json", "an op hash", "op-encoding/typical",
     change_test("op-encoding/typical", flip_member("hash"))),
    ("op_encoding.json", "an expected error code", "op-encoding/version-byte-2",
     change_test("op-encoding/version-byte-2", set_member("errorCode", "truncated"))),
    ("block_hashes.json", "a prefix hash", "block-hashes/n256-513-ops",
     change_test("block-hashes/n256-513-ops", flip_prefix_hash)),
    ("diff_plans.json", "an id in a plan's upload list", "diff-plans/restored-from-older-backup",
     change_test("diff-plans/restored-from-older-backup", flip_upload)),
    ("hlc.json", "the clock after the last step", "hlc/random-walk",
     change_test("hlc/random-walk", change_last_step)),
    ("lww.json", "a key's winner", "lww/branching-history",
     change_test("lww/branching-history", flip_winner)),
    ("file_reconciliation.json", "a reconciliation action", "file-reconciliation/absent-committed-flag-set",
     change_test("file-reconciliation/absent-committed-flag-set", set_member("action", "wait"))),
    ("key_derivation.json", "a KEK", "key-derivation/1000-iterations",
     change_test("key-derivation/1000-iterations", flip_member("kek"))),
    ("key_wrap.json", "a wrapped key", "key-wrap/first-key",
     change_test("key-wrap/first-key", flip_member("wrappedKey"))),
    ("op_envelope.json", "a sealed payload", "op-envelope/put",
     change_test("op-envelope/put", flip_member("payload"))),
    ("file_chunk_envelope.json", "a sealed chunk", "file-chunk-envelope/empty-file",
     change_test("file-chunk-envelope/empty-file", flip_member("envelope"))),
    ("wire_messages.json", "an expected error field",
     "wire-messages/UploadOpsRequest/wall-ms-2-pow-48",
     change_test("wire-messages/UploadOpsRequest/wall-ms-2-pow-48",
                 set_member("errorField", "ops[0].hlc.counter"))),
    ("wire_messages.json", "numberOfTests", None, miscount),
]


def run_verify(tool, directory):
    result = subprocess.run([tool, "verify", str(directory)], capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def fresh_copy(source, parent, name):
    target = pathlib.Path(parent) / name
    target.mkdir()
    for path in source.glob("*.json"):
        shutil.copyfile(path, target / path.name)
    return target


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tool, source = sys.argv[1], pathlib.Path(sys.argv[2])
    missed = []
    with tempfile.TemporaryDirectory(prefix="opsync-vectors-tampering-") as scratch:
        code, output = run_verify(tool, fresh_copy(source, scratch, "untouched"))
        if code != 0:
            print(output)
            sys.exit("check_tampering.py: the untouched vectors do not verify; fix that first")

        for number, (file_name, what, test_id, tamper) in enumerate(TAMPERINGS):
            copy = fresh_copy(source, scratch, f"tampered-{number}")
            path = copy / file_name
            vectors = json.loads(path.read_text(encoding="utf-8"))
            tamper(vectors)
            path.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            code, output = run_verify(tool, copy)
            failures = [line for line in output.splitlines() if line.startswith(f"FAIL {file_name}")]
            named = any(test_id in line for line in failures) if test_id else bool(failures)
            caught = code != 0 and named
            print(f"{'caught' if caught else 'MISSED'} {file_name}: {what}")
            if not caught:
                missed.append(f"{file_name}: {what}")

        # Files that are not there, or that no suite knows, are failures too.
        copy = fresh_copy(source, scratch, "missing-file")
        (copy / "hlc.json").unlink()
        code, output = run_verify(tool, copy)
        caught = code != 0 and "FAIL hlc.json" in output
        print(f"{'caught' if caught else 'MISSED'} a missing vector file")
        if not caught:
            missed.append("a missing vector file")
        copy = fresh_copy(source, scratch, "unknown-file")
        shutil.copyfile(copy / "hlc.json", copy / "hlc_v2.json")
        code, output = run_verify(tool, copy)
        caught = code != 0 and "FAIL hlc_v2.json" in output
        print(f"{'caught' if caught else 'MISSED'} an unknown vector file")
        if not caught:
            missed.append("an unknown vector file")

    if missed:
        print("check_tampering.py: verify accepted tampered vectors:\n  " + "\n  ".join(missed))
        return 1
    print(f"check_tampering.py: verify caught all {len(TAMPERINGS) + 2} tamperings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
