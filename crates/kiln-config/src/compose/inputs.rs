//! `spec:inputs`: each input's type, and the checks GitLab's
//! `Interpolation::Inputs` runs on defaults and on the values an `include:`
//! passes (type, `options`, `regex`, required, unknown).

use std::collections::BTreeMap;

use crate::source::Span;
use crate::yaml::{Map, Node, Value};

/// The input types GitLab knows, in the order of its error messages.
pub(crate) const INPUT_TYPES: [&str; 4] = ["array", "boolean", "number", "string"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputType {
    Array,
    Boolean,
    Number,
    String,
}

impl InputType {
    /// The type a spec declares: `type:` absent (or the whole spec empty)
    /// means string; `None` for an unknown type.
    pub(crate) fn of(spec: Option<&Node>) -> Option<InputType> {
        let Some(map) = spec.and_then(Node::as_map) else {
            return if spec.is_none_or(Node::is_null) { Some(InputType::String) } else { None };
        };
        match map.get("type").map(|t| &t.value) {
            None => Some(InputType::String),
            Some(Value::Str(t)) => match t.as_str() {
                "array" => Some(InputType::Array),
                "boolean" => Some(InputType::Boolean),
                "number" => Some(InputType::Number),
                "string" => Some(InputType::String),
                _ => None,
            },
            Some(_) => None,
        }
    }

    fn matches(self, value: &Node) -> bool {
        match self {
            InputType::Array => matches!(value.value, Value::Seq(_)),
            InputType::Boolean => matches!(value.value, Value::Bool(_)),
            InputType::Number => matches!(value.value, Value::Int(_) | Value::Float(_)),
            InputType::String => matches!(value.value, Value::Str(_)),
        }
    }

    fn article_name(self) -> &'static str {
        match self {
            InputType::Array => "an array",
            InputType::Boolean => "a boolean",
            InputType::Number => "a number",
            InputType::String => "a string",
        }
    }
}

/// A problem with one input, already in GitLab's words, with where it is.
#[derive(Debug, Clone)]
pub(crate) struct InputError {
    pub(crate) message: String,
    pub(crate) span: Span,
}

/// Checks `value` (a default when `is_default`) against the spec of input
/// `name`, as `BaseInput#run_validations` does.
pub(crate) fn validate_value(
    name: &str,
    spec: Option<&Map>,
    ty: InputType,
    value: &Node,
    is_default: bool,
) -> Vec<InputError> {
    let mut errors = Vec::new();
    let mut error = |message: String| {
        errors.push(InputError { message: format!("`{name}` input: {message}"), span: value.span })
    };
    let which = if is_default { "default" } else { "provided" };
    if !ty.matches(value) {
        error(format!("{which} value is not {}", ty.article_name()));
    }
    let options = spec.and_then(|s| s.get("options"));
    let regex = spec.and_then(|s| s.get("regex"));
    match ty {
        InputType::String | InputType::Number => {
            if let Some(options) = options.and_then(Node::as_seq)
                && !value.is_null()
                && !options.iter().any(|o| ruby_eq(o, value))
            {
                error(format!(
                    "`{}` cannot be used because it is not in the list of allowed options",
                    super::util::ruby_to_s(value)
                ));
            }
        }
        InputType::Boolean | InputType::Array => {
            if options.is_some_and(|o| !o.is_null()) {
                error("Options can only be used with string and number inputs".into());
            }
        }
    }
    if let Some(regex) = regex {
        if ty != InputType::String {
            error("RegEx validation can only be used with string inputs".into());
        } else if let (Some(pattern), Some(text)) = (regex.as_str(), value.as_str()) {
            match regex::Regex::new(pattern) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => error(format!("{which} value does not match required RegEx pattern")),
                Err(_) => error("invalid regular expression".into()),
            }
        }
    }
    errors
}

/// Ruby's `==` between two YAML scalars: numbers compare by value across
/// integer and float, everything else by type and value.
pub(crate) fn ruby_eq(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| ruby_eq(p, q)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(&k.name).is_some_and(|w| ruby_eq(v, w)))
        }
        (x, y) => x == y,
    }
}
/// The values of every input after checking the arguments an include (or
/// the pipeline) passed: the `Inputs` class of GitLab's interpolation.
pub(crate) struct ResolvedInputs {
    pub(crate) values: BTreeMap<String, Node>,
    pub(crate) errors: Vec<InputError>,
}

/// Resolves `args` against the `spec:inputs` map `specs`. Defaults were
/// already checked by `check_spec_syntax`, so only the provided values,
/// missing required inputs and unknown arguments are reported here.
/// `at` is where to point for problems that have no node of their own.
pub(crate) fn resolve(specs: Option<&Map>, args: Option<&Map>, at: Span) -> ResolvedInputs {
    let mut errors = Vec::new();
    let mut values = BTreeMap::new();
    if let Some(args) = args {
        let unknown: Vec<&str> = args.keys().filter(|k| !specs.is_some_and(|s| s.contains_key(k))).collect();
        if let Some(first) = unknown.first() {
            let span = args.get_entry(first).map_or(at, |(k, _)| k.span);
            errors.push(InputError {
                message: format!("unknown input arguments: {}", unknown.join(", ")),
                span,
            });
        }
    }
    for (name, spec) in specs.into_iter().flat_map(Map::iter) {
        let name = name.name.as_str();
        let Some(ty) = InputType::of(Some(spec)) else {
            errors.push(InputError {
                message: format!(
                    "unknown input specification for `{name}` (valid types: {})",
                    INPUT_TYPES.join(", ")
                ),
                span: spec.span,
            });
            continue;
        };
        let spec_map = spec.as_map();
        let provided = args.and_then(|a| a.get(name)).filter(|v| !v.is_null());
        let default = spec_map.and_then(|s| s.get("default"));
        match (provided, default) {
            (Some(value), _) => {
                let problems = validate_value(name, spec_map, ty, value, false);
                if problems.is_empty() {
                    values.insert(name.to_string(), value.clone());
                }
                errors.extend(problems);
            }
            (None, Some(default)) => {
                values.insert(name.to_string(), default.clone());
            }
            (None, None) => {
                let span = args.and_then(|a| a.get_entry(name)).map_or(at, |(k, _)| k.span);
                errors.push(InputError {
                    message: format!("`{name}` input: required value has not been provided"),
                    span,
                });
            }
        }
    }
    ResolvedInputs { values, errors }
}
