#!/usr/bin/python3
"""An adapter that breaks opsync-client-adapter/1 on purpose, for the tests of certify-client.

    faulty_adapter.py FAULT ADAPTER_CMD...

Relays every line between the simulator and a real adapter (ADAPTER_CMD, for example
opsync-client-adapter) until the first `sync` command, then commits FAULT instead of relaying:

    malformed     writes a line that is not JSON
    unknown-type  writes a message of a type the protocol does not have
    exit          exits with status 3
    hang          stops answering (the turn times out)
    second-yield  relays the turn's yield, then writes another yield out of turn
    preflight     (at start) answers start with something other than ready

Before the fault it writes "faulty adapter: FAULT" to its standard error, so that a test can check
that the report shows the adapter's last standard-error lines.
"""

import json
import os
import subprocess
import sys
import time

FAULTS = {"malformed", "unknown-type", "exit", "hang", "second-yield", "preflight"}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in FAULTS:
        sys.exit(f"usage: faulty_adapter.py {{{','.join(sorted(FAULTS))}}} ADAPTER_CMD...")
    fault = sys.argv[1]
    real = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def say(line):
        sys.stdout.write(line.rstrip("\n") + "\n")
        sys.stdout.flush()

    def announce():
        print(f"faulty adapter: {fault}", file=sys.stderr, flush=True)

    armed = False
    for event_line in sys.stdin:  # bounded by the simulator: it ends the run
        event = json.loads(event_line)
        if fault == "preflight" and event.get("type") == "start":
            announce()
            say(json.dumps({"type": "wait", "until_monotonic_ms": 0}))
            continue
        if event.get("type") == "command" and event.get("command") == "sync":
            armed = True
        if armed and fault in ("malformed", "unknown-type", "exit", "hang"):
            announce()
            if fault == "malformed":
                say("{this is not json")
            elif fault == "unknown-type":
                say(json.dumps({"type": "hello"}))
            elif fault == "exit":
                sys.exit(3)
            else:
                time.sleep(3600)
            # The simulator ends the run on the line above; wait to be killed.
            time.sleep(3600)
        real.stdin.write(event_line)
        real.stdin.flush()
        # Relay the real adapter's lines up to its yield; asks and notices are answered by the
        # simulator on our stdin, which goes to the real adapter in turn.
        while True:
            line = real.stdout.readline()
            if not line:
                sys.exit("faulty adapter: the real adapter ended")
            kind = json.loads(line).get("type")
            if armed and fault == "second-yield" and kind in ("ready", "request", "wait", "result", "state"):
                announce()
                # The yield and the one out of turn in one write: both are in the pipe before the
                # simulator's next turn looks, however slowly this process runs beside it.
                second = json.dumps({"type": "wait", "until_monotonic_ms": 0})
                os.write(sys.stdout.fileno(), (line.rstrip("\n") + "\n" + second + "\n").encode())
                time.sleep(3600)
            say(line)
            if kind in ("commit", "durable", "random"):
                answer = sys.stdin.readline()
                real.stdin.write(answer)
                real.stdin.flush()
            elif kind in ("ready", "request", "wait", "result", "state"):
                break


if __name__ == "__main__":
    main()
