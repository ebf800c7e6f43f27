//! YAML as GitLab reads it: Psych's YAML 1.1 rules on top of saphyr's parser,
//! with a span on every node; and back to YAML text for `--expand`.

mod emit;
mod load;
mod node;
mod scalar;

pub use emit::to_yaml;
pub use load::{Limits, TOO_BIG, TOO_DEEP, load_documents};
pub use node::{Key, Map, Node, Value, ruby_float_to_s};
