"""Measures `kiln exec` and gitlab-ci-local on one pipeline (called by vs_gcl.sh).

Each run gets a fresh copy of the project (a git repository with an `origin`), so
neither tool profits from the other's or its own earlier state. Per run: wall time
from spawn to exit, the peak RSS of the whole process tree (sampled from /proc every
20 ms, every descendant summed), and the largest single process's max RSS from
wait4 (what `/usr/bin/time -v` reports). The first run of each tool is a warm-up and
not counted; the table shows medians.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

PIPELINE = """\
stages: [build, test, deploy]

.build:
  stage: build
  script:
    - mkdir -p out
    - echo "$CI_JOB_NAME at $CI_COMMIT_SHORT_SHA" > "out/$CI_JOB_NAME.txt"
  artifacts:
    paths: [out/]

build-a: {extends: .build}
build-b: {extends: .build}
build-c: {extends: .build}

.test:
  stage: test
  script:
    - test -s out/build-a.txt
    - test -s out/build-b.txt
    - mkdir -p reports && echo "$CI_JOB_NAME passed" > "reports/$CI_JOB_NAME.txt"
    - echo "$CI_JOB_NAME saw $(cat out/build-a.txt)"
  artifacts:
    paths: [reports/]

test-1: {extends: .test, needs: [build-a, build-b]}
test-2: {extends: .test, needs: [build-a, build-b]}
test-3: {extends: .test, needs: [build-a, build-b, build-c]}
test-4: {extends: .test, needs: [build-a, build-b, build-c]}

.deploy:
  stage: deploy
  script:
    - test -s reports/test-1.txt
    - test -s reports/test-3.txt
    - echo "$CI_JOB_NAME deployed"

deploy-1: {extends: .deploy, needs: [build-a, build-b, test-1, test-3]}
deploy-2: {extends: .deploy, needs: [build-a, build-b, test-1, test-3]}
deploy-3: {extends: .deploy, needs: [build-a, build-b, test-1, test-3]}
"""

JOBS = 10


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_project(root):
    os.makedirs(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "Bench")
    git(root, "remote", "add", "origin", "git@gitlab.example.com:bench/pipeline.git")
    with open(os.path.join(root, ".gitlab-ci.yml"), "w") as f:
        f.write(PIPELINE)
    with open(os.path.join(root, "README"), "w") as f:
        f.write("bench project\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "bench")


def tree_rss_kib(root_pid):
    """Summed RSS (KiB) of root_pid and all its descendants."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(argv, cwd, env, log_path):
    with open(log_path, "wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, peak, usage.ru_maxrss, proc.returncode


def check(log_path, code):
    with open(log_path, errors="replace") as f:
        text = f.read()
    deployed = [f"deploy-{i} deployed" for i in (1, 2, 3)]
    missing = [d for d in deployed if not any(line.rstrip().endswith(d) for line in text.splitlines())]
    if code != 0 or missing:
        raise SystemExit(f"run failed (exit {code}, missing {missing}); log {log_path}:\n{text[-3000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--gcl-bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    args.kiln = os.path.abspath(args.kiln)
    args.gcl_bin = os.path.abspath(args.gcl_bin)

    work = tempfile.mkdtemp(prefix="kiln-vs-gcl-")
    # gitlab-ci-local reads every GCL_* variable as an option (GCL_DIR would be --dir).
    env_gcl = {k: v for k, v in os.environ.items() if not k.startswith("GCL_")}
    env_gcl.update(PATH=args.gcl_bin + os.pathsep + os.environ["PATH"], NO_COLOR="1")
    tools = {
        "kiln exec": ([args.kiln, "exec", "--no-color"], dict(os.environ)),
        # gitlab-ci-local starts every ready job at once; kiln's default is one per CPU.
        "kiln exec -j 10": ([args.kiln, "exec", "--no-color", "-j", "10"], dict(os.environ)),
        "gitlab-ci-local": (["gitlab-ci-local", "--no-color"], env_gcl),
    }
    results = {name: [] for name in tools}
    for i in range(args.runs + 1):
        for name, (argv, env) in tools.items():
            root = os.path.join(work, f"{name.replace(' ', '-')}-{i}")
            make_project(root)
            log = root + ".log"
            wall, peak, maxrss, code = measure(argv, root, env, log)
            check(log, code)
            if i > 0:
                results[name].append((wall, peak, maxrss))
    print(f"pipeline: {JOBS} jobs, 3 stages, needs and artifacts, shell executor; "
          f"median of {args.runs} runs after one warm-up; cpus: {os.cpu_count()}")
    print(f"{'tool':<18}{'wall s':>10}{'peak RSS tree MiB':>20}{'max RSS 1 proc MiB':>21}")
    med = {}
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        peak = statistics.median(r[1] for r in rows) / 1024
        maxrss = statistics.median(r[2] for r in rows) / 1024
        med[name] = (wall, peak, maxrss)
        print(f"{name:<18}{wall:>10.2f}{peak:>20.1f}{maxrss:>21.1f}")
    g = med["gitlab-ci-local"]
    for name in ("kiln exec", "kiln exec -j 10"):
        k = med[name]
        label = "gcl / kiln" if name == "kiln exec" else "gcl / kiln -j 10"
        print(f"{label:<18}{g[0] / k[0]:>9.1f}x{g[1] / k[1]:>19.1f}x{g[2] / k[2]:>20.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
