#!/bin/sh
# Records what one adapter process says under opsync-client-adapter/1 (spec/client-adapter.md):
# run it as the adapter command of opsync-sim, with the real adapter's command after the log
# directory.
#
#   opsync-sim certify-client --filter 'client-00[1-5]' \
#       --adapter "sh spec/tests/record_adapter.sh /tmp/adapter-log opsync-client-adapter"
#   python3 spec/check_adapter_messages.py session /tmp/adapter-log
#
# Every process the simulator starts (one per device, and a new one after each kill) gets its own
# directory LOGDIR/session-XXXXXXXX holding
#   in.jsonl   every line the simulator wrote to the adapter (events and answers), and
#   out.jsonl  every line the adapter wrote back (notices, asks and yields).
# The adapter's standard error goes to the simulator untouched. Each tee writes a line to its file
# before passing it on (tee writes its standard output first, so that goes to /dev/null and the
# pipe is named as its last file, /dev/fd/4): a line the other side has read is recorded even when
# the simulator kills the process group right after it (ADP-070, and at the end of every run). A
# kill may still cut a file's last line short.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: record_adapter.sh LOGDIR ADAPTER [ARGUMENT...]" >&2
  exit 2
fi
log_dir=$1
shift
mkdir -p "$log_dir"
session=$(mktemp -d "$log_dir/session-XXXXXXXX")
tee "$session/in.jsonl" /dev/fd/4 4>&1 >/dev/null |
  "$@" |
  tee "$session/out.jsonl" /dev/fd/4 4>&1 >/dev/null
