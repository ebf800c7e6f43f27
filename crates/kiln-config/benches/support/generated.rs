//! The generated pipeline the benchmark and the profiling example share.

/// A pipeline of `jobs` jobs in 5 stages: every job extends a template
/// chain, takes anchored variables, references another template's script,
/// has rules, and needs a job of the previous stage.
pub(crate) fn generated(jobs: usize) -> String {
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
