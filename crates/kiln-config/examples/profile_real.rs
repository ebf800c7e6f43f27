//! Processes one real-world corpus pipeline (with stubbed external includes)
//! a few times, for instruction-count profiling:
//! `valgrind --tool=callgrind target/release/examples/profile_real <folder>`.

#[path = "../tests/support/real_world.rs"]
mod real_world;

// The `kiln` binary's allocator, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let folder = std::env::args().nth(1).unwrap_or_else(|| "gitlabhq__omnibus-gitlab".into());
    let runs: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(1);
    let repo = real_world::REPOS.iter().find(|r| r.0 == folder).expect("a corpus folder");
    let case = real_world::Case::load(repo);
    for _ in 0..runs {
        let p = kiln_config::process(
            ".gitlab-ci.yml",
            &case.text,
            &case.context(),
            case.sources(),
            &real_world::Case::options(),
        );
        assert!(p.is_valid());
    }
}
