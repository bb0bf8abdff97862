#!/bin/sh
# CTest spec.adapter_session_messages: runs a few certification cases of the reference client's
# adapter (opsync-client-adapter, found on PATH) through record_adapter.sh, then checks every
# line the simulator and the adapter wrote against spec/schema/adapter/.
#
#   adapter_session_test.sh OPSYNC_SIM [CASE...]      the cases default to client-001 to client-005
#
# A case may be a glob of certify-client's --filter, which knows * and ? (no [1-5]).
#
# The verdicts of the cases are not this test's business (the simulator's own tests judge
# them): it fails when the run could not be recorded or a recorded line breaks its schema.
set -eu
if [ $# -lt 1 ]; then
  echo "usage: adapter_session_test.sh OPSYNC_SIM [CASE...]" >&2
  exit 2
fi
sim=$1
shift
[ $# -gt 0 ] || set -- client-001 client-002 client-003 client-004 client-005
count=$#
for case_id in "$@"; do set -- "$@" --filter "$case_id"; done
shift "$count"  # "$@" is now --filter CASE for each case
spec_dir=$(cd "$(dirname "$0")/.." && pwd)
command -v opsync-client-adapter >/dev/null || { echo "opsync-client-adapter is not on PATH" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/opsync-adapter-session-XXXXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

status=0
"$sim" certify-client "$@" --jobs 1 --out "$work/certify" \
    --adapter "sh '$spec_dir/tests/record_adapter.sh' '$work/log' opsync-client-adapter" \
    >"$work/certify.txt" 2>&1 || status=$?
tail -n 5 "$work/certify.txt"
echo "certify-client exited with status $status"
[ -d "$work/log" ] || { cat "$work/certify.txt"; echo "nothing was recorded"; exit 1; }
# The kinds every run of these cases has: a device starts, creates or joins, edits, syncs and is dumped.
python3 "$spec_dir/check_adapter_messages.py" session "$work/log" --expect \
  simulator-start,simulator-command,simulator-http_response,simulator-random,simulator-continue,adapter-ready,adapter-request,adapter-result,adapter-state,adapter-commit,adapter-random
