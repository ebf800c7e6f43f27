//! Processes the benchmark's generated 1,000-job pipeline a few times, for
//! instruction-count profiling that ignores machine load:
//! `valgrind --tool=callgrind target/release/examples/profile`.

#[path = "../benches/support/generated.rs"]
mod generated;

use kiln_config::context::{PipelineContext, Project};

// The `kiln` binary's allocator, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};

fn main() {
    let text = generated::generated(1000);
    let ctx = PipelineContext {
        ref_name: "feature".into(),
        project: Project {
            path: "group/project".into(),
            default_branch: "main".into(),
            ..Project::default()
        },
        ..PipelineContext::default()
    };
    let repo = MemoryRepository::default();
    let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(3);
    for _ in 0..runs {
        let p = process(".gitlab-ci.yml", &text, &ctx, sources, &ProcessOptions::default());
        assert!(p.is_valid());
    }
}
