//! Processing speed: a generated 1,000-job pipeline that uses `extends`,
//! anchors, `!reference`, rules and needs, and the largest real-world
//! pipelines of the conformance corpus.
//!
//! Run with `cargo bench -p kiln-config --bench process`.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use kiln_config::context::{PipelineContext, Project};
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};

/// A pipeline of `jobs` jobs in 5 stages: every job extends a template
/// chain, takes anchored variables, references another template's script,
/// has rules, and needs a job of the previous stage.
fn generated(jobs: usize) -> String {
    let mut s = String::from(
        "stages: [s0, s1, s2, s3, s4]\n\
         variables:\n  GLOBAL: value\n\
         .vars: &vars\n  A: a\n  B: b\n  C: c\n\
         .base:\n  image: alpine:3\n  tags: [docker]\n  retry: 1\n  before_script:\n    - echo before\n\
         .rules:\n  rules:\n    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n      when: manual\n    - if: $CI_COMMIT_BRANCH\n\
         .setup:\n  script:\n    - echo setup\n    - make deps\n\
         .mid:\n  extends: [.base, .rules]\n  artifacts:\n    paths: [out/]\n    expire_in: 1 week\n",
    );
    let per_stage = jobs / 5;
    for i in 0..jobs {
        let stage = i / per_stage.max(1);
        s.push_str(&format!(
            "job-{i}:\n  extends: .mid\n  stage: s{}\n  variables:\n    <<: *vars\n    N: \"{i}\"\n  script:\n    - !reference [.setup, script]\n    - make target-{i}\n",
            stage.min(4)
        ));
        if stage > 0 {
            s.push_str(&format!("  needs: [job-{}]\n", i - per_stage));
        }
    }
    s
}

fn context() -> PipelineContext {
    PipelineContext {
        ref_name: "feature".into(),
        project: Project {
            path: "group/project".into(),
            default_branch: "main".into(),
            ..Project::default()
        },
        ..PipelineContext::default()
    }
}

fn real_world_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/real-world")
}

fn bench(c: &mut Criterion) {
    let text = generated(1000);
    let ctx = context();
    let repo = MemoryRepository::default();
    let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
    let options = ProcessOptions::default();
    let check = process(".gitlab-ci.yml", &text, &ctx, sources, &options);
    assert!(check.is_valid(), "{:?}", check.diagnostics);
    c.bench_function("generated 1000 jobs", |b| {
        b.iter(|| process(".gitlab-ci.yml", &text, &ctx, sources, &options))
    });

    // The largest self-contained real-world files (their includes are local).
    for (name, file) in [
        ("GNOME glib", "GNOME__glib/.gitlab-ci.yml"),
        ("OpenMW", "OpenMW__openmw/.gitlab-ci.yml"),
        ("F-Droid server", "f-droid__fdroidserver/.gitlab-ci.yml"),
        ("GNOME mutter", "GNOME__mutter/.gitlab-ci.yml"),
    ] {
        let path = real_world_root().join(file);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        c.bench_function(&format!("real world: {name}"), |b| {
            b.iter(|| process(".gitlab-ci.yml", &text, &ctx, sources, &options))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
