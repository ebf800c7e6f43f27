"""Drives kiln server with python-gitlab (PyPI), as a GitLab user would.

Create a project, add a masked variable, push a commit, list the pipeline and
its jobs, cancel it and retry it. Exits non-zero on the first mismatch.
"""

import os
import subprocess
import sys
import tempfile
import time

import gitlab

URL = os.environ["KILN_URL"]
TOKEN = os.environ["KILN_TOKEN"]

CI = """stages: [build, test]
build:
  stage: build
  script: echo build
test:
  stage: test
  script: echo "$SECRET" | wc -c
"""


def git(cwd, *args):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": cwd,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Py",
        "GIT_AUTHOR_EMAIL": "py@example.com",
        "GIT_COMMITTER_NAME": "Py",
        "GIT_COMMITTER_EMAIL": "py@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def wait(what, check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.1)


gl = gitlab.Gitlab(URL, private_token=TOKEN)
gl.auth()
assert gl.user.username == "root", gl.user.username

project = gl.projects.create({"name": "py-project", "visibility": "private"})
assert project.path_with_namespace == "root/py-project", project.path_with_namespace

variable = project.variables.create({"key": "SECRET", "value": "s3cr3t-value", "masked": True})
assert variable.masked is True
assert [v.key for v in project.variables.list(get_all=True)] == ["SECRET"]
try:
    project.variables.create({"key": "BAD", "value": "no", "masked": True})
    sys.exit("an unmaskable value was accepted")
except gitlab.exceptions.GitlabCreateError as e:
    assert e.response_code == 400, e.response_code

with tempfile.TemporaryDirectory() as work:
    git(work, "init", "--quiet", "--initial-branch=main")
    with open(os.path.join(work, ".gitlab-ci.yml"), "w") as f:
        f.write(CI)
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "CI from python-gitlab")
    remote = URL.replace("http://", f"http://root:{TOKEN}@") + "/root/py-project.git"
    git(work, "push", "--quiet", remote, "main")

pipelines = wait("the push pipeline", lambda: project.pipelines.list(get_all=True))
assert len(pipelines) == 1
pipeline = project.pipelines.get(pipelines[0].id)
assert pipeline.source == "push" and pipeline.ref == "main", (pipeline.source, pipeline.ref)
pipeline = wait("pending", lambda: (p := project.pipelines.get(pipeline.id)).status == "pending" and p)
jobs = sorted((j.name, j.status, j.stage) for j in pipeline.jobs.list(get_all=True))
assert jobs == [("build", "pending", "build"), ("test", "created", "test")], jobs

pipeline.cancel()
pipeline = project.pipelines.get(pipeline.id)
assert pipeline.status == "canceled", pipeline.status
assert sorted(j.status for j in pipeline.jobs.list(get_all=True)) == ["canceled", "canceled"]

pipeline.retry()
pipeline = project.pipelines.get(pipeline.id)
assert pipeline.status in ("pending", "running"), pipeline.status
current = sorted((j.name, j.status) for j in pipeline.jobs.list(get_all=True))
assert current == [("build", "pending"), ("test", "created")], current
with_retried = pipeline.jobs.list(get_all=True, include_retried=True)
assert len(with_retried) == 4, len(with_retried)
job = project.jobs.get([j for j in pipeline.jobs.list(get_all=True) if j.name == "build"][0].id)
assert job.pipeline["id"] == pipeline.id
print("python-gitlab: ok")
