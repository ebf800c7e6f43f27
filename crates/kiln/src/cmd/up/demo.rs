//! The demo project `kiln up` pushes on first start: a pipeline that shows stages,
//! `needs`, artifacts passed between jobs and a manual job, pushed with the `git` CLI
//! over the server's smart HTTP like any user's push.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The demo's `.gitlab-ci.yml`.
pub(crate) const PIPELINE: &str = r#"# Kiln's demo pipeline: stages, needs, artifacts and a manual job.
stages: [build, test, deploy]

build:
  stage: build
  script:
    - mkdir -p dist
    - echo "hello from $CI_PROJECT_PATH at $CI_COMMIT_SHORT_SHA" > dist/greeting.txt
  artifacts:
    paths: [dist/]
    expire_in: 1 week

unit-tests:
  stage: test
  needs: [build]
  script:
    - cat dist/greeting.txt
    - grep -q "hello from" dist/greeting.txt

lint:
  stage: test
  needs: []
  script:
    - test -s README.md
    - echo "README.md has $(wc -l < README.md) lines"

deploy:
  stage: deploy
  needs: [build, unit-tests, lint]
  when: manual
  script:
    - echo "deploying $(cat dist/greeting.txt)"
"#;

const README: &str = "# Demo\n\nPushed by `kiln up` on its first start. Its pipeline builds a file, tests it\n\
                      in a job that needs the build's artifacts, lints this README, and waits for you\n\
                      to run the manual `deploy` job.\n";

/// Commits the demo into a fresh repository under `scratch` and pushes it to `remote`'s `main`.
pub(crate) fn push(scratch: &Path, remote: &str) -> anyhow::Result<()> {
    let dir = scratch.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(".gitlab-ci.yml"), PIPELINE).context("writing the demo pipeline")?;
    std::fs::write(dir.join("README.md"), README).context("writing the demo README")?;
    git(&dir, &["init", "--quiet", "--initial-branch=main"])?;
    git(&dir, &["add", "-A"])?;
    git(&dir, &["commit", "--quiet", "-m", "Demo pipeline: stages, needs, artifacts, a manual job"])?;
    git(&dir, &["push", "--quiet", remote, "main"])?;
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(())
}

/// Runs git with no configuration from the machine and a fixed identity, so the
/// push works on a fresh account without `user.name`.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Kiln")
        .env("GIT_AUTHOR_EMAIL", "kiln@localhost")
        .env("GIT_COMMITTER_NAME", "Kiln")
        .env("GIT_COMMITTER_EMAIL", "kiln@localhost")
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        // The remote URL carries the token: show git's words without the arguments.
        bail!("git {} failed in {}: {}", args[0], dir.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
