//! Fuzz target: the whole processor (YAML, includes, `extends`,
//! `!reference`, the model, planning) on arbitrary text, in normal and
//! strict mode. It must never panic.
//!
//! The input is split at NUL bytes: the first part is `.gitlab-ci.yml`, the
//! next ones are `a.yml`, `b.yml`, `c.yml` in the repository, so local
//! includes, references across files and include cycles get exercised.
#![no_main]

use kiln_config::context::{PipelineContext, Project};
use kiln_config::sources::{MemoryRepository, Sources, Unavailable};
use kiln_config::{ProcessOptions, process};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let main = parts.next().unwrap_or("");
    let mut repo = MemoryRepository::default();
    for (name, part) in ["a.yml", "b.yml", "c.yml"].iter().zip(parts) {
        repo = repo.with(name, part);
    }
    let ctx = PipelineContext {
        ref_name: "main".into(),
        project: Project { path: "group/project".into(), default_branch: "main".into(), ..Project::default() },
        changed_paths: Some(vec!["a.yml".into()]),
        ..PipelineContext::default()
    };
    let sources = Sources { repository: &repo, projects: &Unavailable, remote: &Unavailable };
    for strict in [false, true] {
        let options = ProcessOptions { strict, ..ProcessOptions::default() };
        let processed = process(".gitlab-ci.yml", main, &ctx, sources, &options);
        // Whatever it produced must print and render.
        if let Some(merged) = &processed.merged {
            let _ = kiln_config::yaml::to_yaml(&kiln_config::compose::expanded_view(merged));
        }
        for diag in processed.diagnostics.iter() {
            let _ = diag.display(&processed.sources).to_string();
        }
    }
});
