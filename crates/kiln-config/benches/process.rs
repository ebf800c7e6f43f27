//! Processing speed: a generated 1,000-job pipeline that uses `extends`,
//! anchors, `!reference`, rules and needs, and the largest real-world
//! pipelines of the conformance corpus (with their external includes
//! stubbed).
//!
//! Run with `cargo bench -p kiln-config --bench process`.

use criterion::{Criterion, criterion_group, criterion_main};

// The `kiln` binary's allocator, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/generated.rs"]
mod generated;
#[path = "../tests/support/real_world.rs"]
mod real_world;
use generated::generated;
use kiln_config::context::{PipelineContext, Project};
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};

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

    // The largest real-world pipelines of the corpus (by the YAML they
    // read), with their external includes stubbed as in the conformance test.
    for folder in [
        "gitlabhq__omnibus-gitlab",
        "gitlabhq__gitlab-runner",
        "GNOME__glib",
        "OpenMW__openmw",
        "f-droid__fdroidserver",
    ] {
        let Some(repo) = real_world::REPOS.iter().find(|r| r.0 == folder) else { continue };
        let case = real_world::Case::load(repo);
        let (ctx, options) = (case.context(), real_world::Case::options());
        let check = process(".gitlab-ci.yml", &case.text, &ctx, case.sources(), &options);
        assert!(check.is_valid(), "{folder}: {:?}", check.diagnostics);
        c.bench_function(&format!("real world: {folder}"), |b| {
            b.iter(|| process(".gitlab-ci.yml", &case.text, &ctx, case.sources(), &options))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
