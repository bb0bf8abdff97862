#!/usr/bin/python3
"""Renders a bug file and checks the page in headless Chromium, from its DOM and a screenshot.

    check_render.py OPSYNC_SIM BUG_FILE [SCREENSHOT]
    check_render.py OPSYNC_SIM --each BUG_FILE...     (the DOM checks for every file)

Runs `opsync-sim render BUG_FILE`, opens the page in headless Chromium (Debian's chromium) and
checks that the script drew what the page is for: a lane for the server and for every device,
message arrows, the violation box naming the bug file's checker, and events highlighted as
involved (for every checker: the violation's operations or files, or else its nodes' last
events), labels short enough to read that keep the end of a route (/ops, /blocks), every lost
message's cross nearer the lane it left than any other, and the scenario's description under the
title. The screenshot must show the lanes (vertical runs of the lane colour, one per node)
and the violation box (its red border). SCREENSHOT, when given, is where the screenshot is kept
(the README's picture). Exits 0 when every check holds, 1 otherwise, 77 (skipped) without
Chromium.
"""

import html.parser
import itertools
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

WIDTH, HEIGHT = 1400, 1000
LANE_COLOUR = (0xC4, 0xC9, 0xD4)       # .lane line
VIOLATION_COLOUR = (0xD0, 0x30, 0x2B)  # #violation border


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def headless(browser, profile, *arguments):
    # A profile of its own and no sandbox (CI runs as root in a container); no network needed.
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
               "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}", *arguments]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


class Dom(html.parser.HTMLParser):
    """Counts what the diagram script drew, from the serialized DOM."""

    def __init__(self):
        super().__init__()
        self.lanes = []
        self.arrows = {}
        self.events = 0
        self.involved = 0
        self.in_violation = 0
        self.violation_text = ""
        self.violations = 0
        self.lane_x = {}
        self.crosses = []  # (the node the lost message left, x of its cross)
        self.labels = []
        self.in_label = False
        self.in_description = False
        self.description = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self.in_violation:
            self.in_violation += 1
        if tag == "div" and a.get("id") == "violation":
            self.in_violation = 1
        if "violated" in classes:
            self.violations += 1
        if tag == "g" and "lane" in classes:
            self.lanes.append(a.get("data-node"))
            self.lane_without_x = a.get("data-node")
        if tag == "line" and getattr(self, "lane_without_x", None):
            # A lane's line: where the lane is.
            self.lane_x[self.lane_without_x] = float(a.get("x1"))
            self.lane_without_x = None
        if tag == "path" and "lost" in classes:
            # "M x,y L x,y": from the lane the message left to its cross.
            start, end = a.get("d", "M0,0 L0,0")[1:].split(" L")
            self.crosses.append((float(start.split(",")[0]), float(end.split(",")[0])))
        if tag == "text" and "label" in classes:
            self.in_label = True
            self.labels.append("")
        if tag == "p" and a.get("id") == "description":
            self.in_description = True
            self.description = ""
        if tag == "path" and "arrow" in classes:
            for c in classes:
                if c != "arrow":
                    self.arrows[c] = self.arrows.get(c, 0) + 1
        if tag == "g" and "event" in classes:
            self.events += 1
            self.involved += "involved" in classes

    def handle_endtag(self, tag):
        if self.in_violation:
            self.in_violation -= 1
        if tag == "text":
            self.in_label = False
        if tag == "p":
            self.in_description = False

    def handle_data(self, data):
        if self.in_violation:
            self.violation_text += data
        if self.in_label:
            self.labels[-1] += data
        if self.in_description:
            self.description += data


def read_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit RGB or RGBA PNG, without libraries."""
    data = pathlib.Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    at, idat, header = 8, b"", None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"an unexpected PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    n = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * n
    rows, previous = [], bytes(stride)
    low = int.from_bytes(b"\x00\xff" * (stride // 2) + b"\xff" * (stride % 2), "big")
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if kind == 1:  # sub: a running sum per channel
            out = bytearray(stride)
            for c in range(n):
                out[c::n] = bytes(map((255).__and__, itertools.accumulate(line[c::n])))
            line = bytes(out)
        elif kind == 2:  # up: bytewise sums of two rows, as two interleaved big integers
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            even = ((a & low) + (b & low)) & low
            odd = (((a >> 8) & low) + ((b >> 8) & low)) & low
            line = (even | (odd << 8)).to_bytes(stride, "big")
        elif kind in (3, 4):
            out = bytearray(line)
            up = previous
            for i in range(stride):
                left = out[i - n] if i >= n else 0
                above = up[i]
                if kind == 3:
                    out[i] = (out[i] + ((left + above) >> 1)) & 255
                else:
                    corner = up[i - n] if i >= n else 0
                    pa, pb, pc = abs(above - corner), abs(left - corner), abs(left + above - 2 * corner)
                    out[i] = (out[i] + (left if pa <= pb and pa <= pc else above if pb <= pc else corner)) & 255
            line = bytes(out)
        rows.append(line)
        previous = line
    return width, height, n, rows


def pixel(rows, n, x, y):
    return tuple(rows[y][x * n:x * n + 3])


def near(pixel, colour, tolerance=24):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def lane_columns(width, height, n, rows):
    """x of the columns that are lane-coloured over most of the lower half of the picture."""
    band = range(height // 2, height, 4)
    columns = [x for x in range(width)
               if sum(near(pixel(rows, n, x, y), LANE_COLOUR) for y in band) > len(band) * 0.6]
    # Lines are 1 to 3 pixels wide: count runs of adjacent columns once.
    lanes = []
    for x in columns:
        if not lanes or x - lanes[-1][-1] > 1:
            lanes.append([x])
        else:
            lanes[-1].append(x)
    return [run[0] for run in lanes]


def main(arguments):
    if len(arguments) >= 3 and arguments[1] == "--each":
        if not chromium():
            print("check_render.py: no chromium on PATH (Debian: apt-get install chromium); skipped")
            return 77
        return max(check(arguments[0], path, None, screenshot=False) for path in arguments[2:])
    if len(arguments) not in (2, 3):
        print(__doc__)
        return 2
    return check(arguments[0], arguments[1], arguments[2] if len(arguments) == 3 else None)


def check(sim, bug_path, keep, screenshot=True):
    browser = chromium()
    if not browser:
        print("check_render.py: no chromium on PATH (Debian: apt-get install chromium); skipped")
        return 77
    bug = json.loads(pathlib.Path(bug_path).read_text(encoding="utf-8"))
    problems = []
    with tempfile.TemporaryDirectory(prefix="opsync-render-") as work:
        page = os.path.join(work, "trace.html")
        shot = os.path.join(work, "shot.png")
        rendered = subprocess.run([sim, "render", bug_path, "-o", page], capture_output=True, text=True, check=False)
        if rendered.returncode != 0:
            print(f"opsync-sim render failed: {rendered.stderr.strip()}")
            return 1
        dom_run = headless(browser, os.path.join(work, "profile-dom"), "--dump-dom", "file://" + page)
        dom = Dom()
        dom.feed(dom_run.stdout.decode("utf-8", "replace"))
        if screenshot:
            shot_run = headless(browser, os.path.join(work, "profile-shot"), f"--screenshot={shot}", "file://" + page)
            if shot_run.returncode != 0 or not os.path.exists(shot):
                print(f"chromium took no screenshot: {shot_run.stderr.decode('utf-8', 'replace')[-400:]}")
                return 1
            width, height, n, rows = read_png(shot)
            if keep:
                shutil.copyfile(shot, keep)

    # The DOM: one lane per node, arrows, the violation box naming the checker, the ops involved.
    devices = {e["node"] for e in bug.get("schedule", []) if e["node"].startswith("device-")}
    expected_lanes = 1 + bug["config"].get("devices", 1)
    if len(dom.lanes) < expected_lanes or dom.lanes[0] != "server":
        problems.append(f"DOM: lanes {dom.lanes}; expected the server and {expected_lanes - 1} devices")
    if not devices <= set(dom.lanes):
        problems.append(f"DOM: no lane for {sorted(devices - set(dom.lanes))}")
    if dom.arrows.get("request", 0) == 0 or dom.arrows.get("answer", 0) == 0:
        problems.append(f"DOM: no request or answer arrows ({dom.arrows})")
    if dom.events < 10:
        problems.append(f"DOM: only {dom.events} events drawn")
    checker = bug.get("checker", "")
    if checker:
        if dom.violations < 1 or checker not in dom.violation_text:
            problems.append(f"DOM: the violation box does not name {checker}: {dom.violation_text[:200]!r}")
        if dom.involved == 0:
            problems.append(f"DOM: no event is highlighted as involved in the {checker} violation")
    # Labels: short, ids shortened, and a request's route keeps its end.
    long_labels = [label for label in dom.labels if len(label) > 48]
    if long_labels:
        problems.append(f"DOM: labels too long to read beside a lane: {long_labels[:3]}")
    routed = [label for label in dom.labels if "/v1/workspaces/" in label]
    if routed and not any(label.endswith(("/ops", "/blocks", "/keys")) or "/ops?" in label or "/ops " in label
                          for label in routed):
        problems.append(f"DOM: no request's label shows the end of its route: {routed[:3]}")
    # Every lost message's cross lies nearer the lane it left than any other lane.
    def nearest_lane(x):
        return min(dom.lane_x, key=lambda n: abs(dom.lane_x[n] - x))
    for start, cross in dom.crosses:
        if nearest_lane(cross) != nearest_lane(start):
            problems.append(f"DOM: a message lost on its way from {nearest_lane(start)} has its cross at x={cross}, "
                            f"on {nearest_lane(cross)}'s lane")
            break
    if bug.get("description") and (dom.description or "").strip() != bug["description"].strip():
        problems.append(f"DOM: the description is not under the title: {dom.description!r}")
    # The screenshot: the lanes and the violation box are on screen. (--each checks what the
    # page draws for many bug files from its DOM; one file's screenshot checks how it looks.)
    lanes = lane_columns(width, height, n, rows) if screenshot else []
    # The lanes are evenly spaced: look for as many lines as nodes, each the same step from the last.
    even = any(all(abs((lanes[i + k + 1] - lanes[i + k]) - (lanes[i + 1] - lanes[i])) <= 3
                   for k in range(expected_lanes - 1))
               for i in range(len(lanes) - expected_lanes + 1)) if expected_lanes > 1 else len(lanes) >= 1
    if screenshot and not even:
        problems.append(f"screenshot: lane lines at x = {lanes}; expected {expected_lanes} evenly spaced")
    if screenshot and checker:
        red = sum(near(pixel(rows, n, x, y), VIOLATION_COLOUR) for y in range(height // 3) for x in range(0, width, 2))
        if red < 500:
            problems.append(f"screenshot: the violation box's red border is not in the top third ({red} pixels)")
    for problem in problems:
        print(problem)
    print(f"{bug_path}: {len(dom.lanes)} lanes, {sum(dom.arrows.values())} arrows {dom.arrows}, {dom.events} events "
          f"({dom.involved} involved), {len(dom.crosses)} crosses, {len(lanes)} lane lines in the screenshot: "
          f"{'ok' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
