//! Compose: from the main `.gitlab-ci.yml` to one merged tree, exactly as
//! GitLab builds it (`Gitlab::Ci::Config#build_config`): YAML with its
//! optional `spec:` header, `include:` (with `spec:inputs` and
//! `$[[ inputs ]]`), `extends`, `!reference`, and `default:` copied into
//! the jobs.

mod include_syntax;
mod inputs;
mod spec_syntax;
mod util;

pub use include_syntax::check_include_syntax;
pub use spec_syntax::check_spec_syntax;
