#!/usr/bin/env python3
"""The cluster recipes of simulator/README.md ("A million seeds on a cluster"), run as written.

    check_recipes.py OPSYNC_SIM

Parses the GitHub Actions workflow and the Kubernetes Job of the README (YAML), checks that
their shard counts agree with their commands, then runs their shell steps here, as the cluster
would: every matrix job's (or every completion index's) swarm slice as a parallel process, with
the seeds cut down from a million to a handful and opsync-sim from the build, then the merge
step. The merged summary must count every seed once, with no shard missing.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

SEEDS = 4  # instead of a million: shards past the fourth run no seed, which must be fine too


def fail(message):
    print(f"check_recipes.py: {message}", file=sys.stderr)
    sys.exit(1)


def yaml_blocks(readme):
    text = readme.read_text()
    start = text.index("## A million seeds on a cluster")
    section = text[start:text.index("\n## ", start + 10)]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def run_shards(commands, sim, scratch):
    """Runs the shard commands (shell text) in parallel, with opsync-sim and the seed count swapped."""
    processes = []
    for command in commands:
        command = command.replace("opsync-sim ", f"{sim} ").replace("--seeds 1000000", f"--seeds {SEEDS}")
        processes.append(subprocess.Popen(["sh", "-c", command], cwd=scratch, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
    for p in processes:
        _, err = p.communicate(timeout=600)
        if p.returncode not in (0, 1):
            fail(f"a shard exited {p.returncode}: {err[-2000:]}")


def check_merged(summary):
    merged = json.loads(pathlib.Path(summary).read_text())
    if merged["seeds_run"] != SEEDS or merged["missing_shards"] or not merged["complete"]:
        fail(f"the merged summary is not whole: {merged}")


def github(workflow, sim):
    shards = workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    count = len(shards)
    if shards != list(range(1, count + 1)):
        fail(f"the matrix is not 1..{count}: {shards}")
    steps = workflow["jobs"]["shard"]["steps"]
    run = next(s["run"] for s in steps if "run" in s and "opsync-sim swarm" in s["run"])
    if f"/{count} " not in run:
        fail(f"the swarm step does not cut the seeds into {count} shards: {run}")
    with tempfile.TemporaryDirectory() as scratch:
        run_shards([run.replace("${{ matrix.shard }}", str(i)) for i in shards], sim, scratch)
        merge = next(s["run"] for s in workflow["jobs"]["merge"]["steps"] if "run" in s and "merge" in s["run"])
        done = subprocess.run(["sh", "-c", merge.replace("opsync-sim ", f"{sim} ")], cwd=scratch, capture_output=True,
                              text=True)
        if done.returncode != 0:
            fail(f"the merge step exited {done.returncode}: {done.stdout}{done.stderr}")
        check_merged(pathlib.Path(scratch) / "swarm.json")
    print(f"check_recipes.py: the GitHub Actions matrix of {count} shards ran and merged")


def kubernetes(job, sim):
    spec = job["spec"]
    count = spec["completions"]
    if spec["completionMode"] != "Indexed" or spec["parallelism"] != count:
        fail("the Job is not an Indexed Job running every index at once")
    container = spec["template"]["spec"]["containers"][0]
    script = container["args"][0]
    if f"/{count} " not in script or "JOB_COMPLETION_INDEX + 1" not in script:
        fail(f"the Job does not take its completion index as shard I/{count}: {script}")
    with tempfile.TemporaryDirectory() as scratch:
        results = pathlib.Path(scratch) / "results"
        results.mkdir()
        commands = [f"JOB_COMPLETION_INDEX={i}; " + script.replace("/results", str(results)) for i in range(count)]
        run_shards(commands, sim, scratch)
        merged = results / "swarm.json"
        summaries = sorted(str(p) for p in results.glob("shard-*/summary.json"))
        done = subprocess.run([sim, "merge", *summaries, "--json", str(merged)], capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"the merge exited {done.returncode}: {done.stdout}{done.stderr}")
        check_merged(merged)
    print(f"check_recipes.py: the Kubernetes Indexed Job of {count} completions ran and merged")


def main():
    if len(sys.argv) != 2:
        fail("usage: check_recipes.py OPSYNC_SIM")
    sim = str(pathlib.Path(sys.argv[1]).resolve())
    blocks = yaml_blocks(pathlib.Path("simulator/README.md"))
    workflows = [b for b in blocks if isinstance(b, dict) and "jobs" in b]
    jobs = [b for b in blocks if isinstance(b, dict) and b.get("kind") == "Job"]
    if len(workflows) != 1 or len(jobs) != 1:
        fail(f"expected one workflow and one Job in the README, found {len(workflows)} and {len(jobs)}")
    github(workflows[0], sim)
    kubernetes(jobs[0], sim)


if __name__ == "__main__":
    main()
