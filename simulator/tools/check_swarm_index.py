#!/usr/bin/python3
"""A swarm's index of failures, opened in headless Chromium (Debian's chromium).

    check_swarm_index.py OPSYNC_SIM [SCREENSHOT]

Runs a small swarm of a deliberately broken client that fails one seed of three, opens the
index.html it writes, and checks from the DOM that each failing seed has its row with its checker
and first violation, and links to a page and a bug file that exist; then that the failure's page
opens too. The screenshot must not be blank. SCREENSHOT, when given, is where it is kept (the
simulator README's picture). Exits 0 when every check holds, 1 otherwise, 77 without Chromium.
"""

import html.parser
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile


def fail(message):
    print(f"check_swarm_index.py: {message}", file=sys.stderr)
    sys.exit(1)


def headless(browser, profile, *arguments):
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
               "--hide-scrollbars", "--window-size=1200,500", *arguments]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


class Rows(html.parser.HTMLParser):
    """The rows of the failures table: their cells' text and their links."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.in_table = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "failures":
            self.in_table = True
        elif self.in_table and tag == "tr" and attrs.get("class") in ("failure", "error"):
            self.rows.append({"cells": [], "links": []})
        elif self.in_table and self.rows and tag == "td":
            self.cell = ""
        elif self.in_table and self.rows and tag == "a":
            self.rows[-1]["links"].append(attrs.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None and self.rows:
            self.rows[-1]["cells"].append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def main():
    if len(sys.argv) not in (2, 3):
        fail("usage: check_swarm_index.py OPSYNC_SIM [SCREENSHOT]")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("check_swarm_index.py: no Chromium; skipped")
        sys.exit(77)
    sim = str(pathlib.Path(sys.argv[1]).resolve())
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        out = scratch / "failures"
        run = subprocess.run([sim, "swarm", "--seeds", "3", "--first-seed", "310", "--variant", "forget-lost-uploads",
                              "--jobs", "2", "--out", str(out), "--json", str(out / "swarm.json")],
                             capture_output=True, text=True)
        if run.returncode != 1:
            fail(f"the swarm of a broken client exited {run.returncode}: {run.stdout}{run.stderr}")
        summary = json.loads((out / "swarm.json").read_text())
        index = out / "index.html"
        if "index.html" not in run.stdout or not index.exists():
            fail("the swarm wrote no index of its failures: " + run.stdout)
        dom = headless(browser, scratch / "profile", "--dump-dom", index.as_uri())
        rows = Rows()
        rows.feed(dom.stdout.decode())
        if len(rows.rows) != summary["failed"] or not rows.rows:
            fail(f"{len(rows.rows)} rows in the index for {summary['failed']} failures")
        for row, failure in zip(rows.rows, summary["failures"]):
            seed, checker, message = row["cells"][0], row["cells"][1], row["cells"][2]
            if seed != str(failure["seed"]) or checker != failure["checkers"][0] or not message.startswith(checker):
                fail(f"the row {row['cells'][:3]} does not say what seed {failure['seed']} failed: {failure}")
            if len(row["links"]) != 2 or not all((out / link).exists() for link in row["links"]):
                fail(f"the row of seed {seed} does not link to its page and its bug file: {row['links']}")
        page = out / rows.rows[0]["links"][0]
        if "violation" not in headless(browser, scratch / "profile", "--dump-dom", page.as_uri()).stdout.decode():
            fail(f"the page {page.name} the index links to shows no violation")
        shot = pathlib.Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else scratch / "index.png"
        headless(browser, scratch / "profile", f"--screenshot={shot}", index.as_uri())
        if not shot.exists() or shot.stat().st_size < 5000:
            fail("Chromium's screenshot of the index is missing or blank")
    print(f"check_swarm_index.py: {len(rows.rows)} failing seeds in the index, each with its page and bug file")


if __name__ == "__main__":
    main()
