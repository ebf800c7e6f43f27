//! Request parameters as Grape sees them: the query string and the body
//! (JSON or form-encoded, with Rack's `a[]` / `a[][k]` nesting) merged into
//! one map, read with typed accessors that collect Grape's messages
//! (`key is missing`, `masked is invalid`, `scope does not have a valid value`).

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Grape's message for a body that is not the JSON it claims to be.
const BAD_BODY: &str = "message body does not match declared format";

/// Merged request parameters and the problems found reading them.
#[derive(Debug, Default)]
pub(crate) struct Params {
    map: Map<String, Value>,
    errors: Vec<String>,
}

impl Params {
    /// Parses the query string and a body of the given content type. Body
    /// values win over query values of the same name.
    pub(crate) fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut map = Map::new();
        if let Some(query) = query {
            merge_form(&mut map, query.as_bytes());
        }
        let is_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"));
        let is_multipart = content_type.is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/"));
        if !body.iter().all(u8::is_ascii_whitespace) && !is_multipart {
            if is_json {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(object)) => map.extend(object),
                    // Grape accepts a JSON body that is not an object but sees no parameters in it.
                    Ok(_) => {}
                    Err(_) => return Err(ApiError::params(BAD_BODY)),
                }
            } else {
                merge_form(&mut map, body);
            }
        }
        Ok(Params { map, errors: Vec::new() })
    }

    /// Parameters from a JSON value (tests, internal callers).
    #[cfg(test)]
    pub(crate) fn from_value(value: Value) -> Params {
        match value {
            Value::Object(map) => Params { map, errors: Vec::new() },
            _ => Params::default(),
        }
    }

    /// Whether the parameter was given at all (even as `null`).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value.
    pub(crate) fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    fn invalid(&mut self, key: &str) {
        self.errors.push(format!("{key} is invalid"));
    }

    /// A string; numbers and booleans are taken as their text, as Grape coerces them.
    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => {
                self.invalid(key);
                None
            }
        }
    }

    /// A required string (`key is missing` when absent).
    pub(crate) fn required_string(&mut self, key: &str) -> String {
        if !self.has(key) || self.map.get(key).is_some_and(Value::is_null) {
            self.errors.push(format!("{key} is missing"));
            return String::new();
        }
        self.string(key).unwrap_or_default()
    }

    /// A required string that may not be blank (`key is empty`).
    pub(crate) fn required_nonblank(&mut self, key: &str) -> String {
        let had = self.has(key) && !self.map.get(key).is_some_and(Value::is_null);
        let value = self.required_string(key);
        if had && value.trim().is_empty() && !self.errors.iter().any(|e| e.starts_with(&format!("{key} is ")))
        {
            self.errors.push(format!("{key} is empty"));
        }
        value
    }

    /// A boolean as Grape coerces them (`true`, `"false"`, `1`, `"0"`, `"yes"`, ...).
    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        let parsed = match self.map.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::Null => return None,
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "t" | "yes" | "y" | "on" => Some(true),
                "false" | "0" | "f" | "no" | "n" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.invalid(key);
        }
        parsed
    }

    /// An integer (numbers or digit strings).
    pub(crate) fn integer(&mut self, key: &str) -> Option<i64> {
        let parsed = match self.map.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null => return None,
            _ => None,
        };
        if parsed.is_none() {
            self.invalid(key);
        }
        parsed
    }

    /// A string that must be one of `values` (`key does not have a valid value`).
    pub(crate) fn one_of(&mut self, key: &str, values: &[&str]) -> Option<String> {
        let value = self.string(key)?;
        if values.contains(&value.as_str()) {
            Some(value)
        } else {
            self.errors.push(format!("{key} does not have a valid value"));
            None
        }
    }

    /// An array; a single value or a Rack hash (`a[0]=x`) is accepted as Grape coerces them.
    pub(crate) fn array(&mut self, key: &str) -> Option<Vec<Value>> {
        match self.map.get(key)? {
            Value::Array(items) => Some(items.clone()),
            Value::Object(object) => Some(object.values().cloned().collect()),
            Value::Null => None,
            other => Some(vec![other.clone()]),
        }
    }

    /// An array of strings.
    pub(crate) fn string_array(&mut self, key: &str) -> Option<Vec<String>> {
        let items = self.array(key)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) => out.push(s),
                Value::Number(n) => out.push(n.to_string()),
                _ => {
                    self.invalid(key);
                    return None;
                }
            }
        }
        Some(out)
    }

    /// Records a problem found by the caller.
    pub(crate) fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Fails with every problem found so far, joined as Grape joins them.
    pub(crate) fn check(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::params(std::mem::take(&mut self.errors).join(", ")))
        }
    }
}

/// Adds `application/x-www-form-urlencoded` pairs with Rack's nesting:
/// `a=1`, `a[]=1&a[]=2`, `a[b]=1`, `a[][k]=1&a[][v]=2` (a new element starts
/// when a key repeats).
fn merge_form(map: &mut Map<String, Value>, bytes: &[u8]) {
    for (name, value) in url::form_urlencoded::parse(bytes) {
        let value = Value::String(value.into_owned());
        let Some(open) = name.find('[') else {
            map.insert(name.into_owned(), value);
            continue;
        };
        let (base, rest) = name.split_at(open);
        let keys: Vec<&str> = rest.split(']').filter_map(|part| part.strip_prefix('[')).collect();
        match keys.as_slice() {
            [""] => push_array(map, base, value),
            ["", sub] => {
                let entry = map.entry(base.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                if !entry.is_array() {
                    *entry = Value::Array(Vec::new());
                }
                if let Value::Array(items) = entry {
                    let start_new = match items.last() {
                        Some(Value::Object(last)) => last.contains_key(*sub),
                        _ => true,
                    };
                    if start_new {
                        items.push(Value::Object(Map::new()));
                    }
                    if let Some(Value::Object(last)) = items.last_mut() {
                        last.insert((*sub).to_string(), value);
                    }
                }
            }
            [key] => insert_object(map, base, &[key], value),
            [key, sub] => insert_object(map, base, &[key, sub], value),
            _ => {
                map.insert(name.into_owned(), value);
            }
        }
    }
}

fn push_array(map: &mut Map<String, Value>, base: &str, value: Value) {
    let entry = map.entry(base.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    match entry {
        Value::Array(items) => items.push(value),
        other => *other = Value::Array(vec![value]),
    }
}

fn insert_object(map: &mut Map<String, Value>, base: &str, path: &[&str], value: Value) {
    let mut entry = map.entry(base.to_string()).or_insert_with(|| Value::Object(Map::new()));
    for (i, key) in path.iter().enumerate() {
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(object) = entry else { return };
        if i + 1 == path.len() {
            object.insert((*key).to_string(), value);
            return;
        }
        entry = object.entry((*key).to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn form_nesting_follows_rack() {
        let p = Params::parse(
            Some("scope[]=pending&scope[]=running&page=2"),
            Some("application/x-www-form-urlencoded"),
            b"ref=main&variables[][key]=A&variables[][value]=1&variables[][key]=B&variables[][value]=2&h[x]=1",
        )
        .unwrap();
        assert_eq!(p.raw("scope"), Some(&json!(["pending", "running"])));
        assert_eq!(
            p.raw("variables"),
            Some(&json!([{"key": "A", "value": "1"}, {"key": "B", "value": "2"}]))
        );
        assert_eq!(p.raw("h"), Some(&json!({"x": "1"})));
        assert_eq!(p.raw("page"), Some(&json!("2")));
    }

    #[test]
    fn json_bodies_and_grape_messages() {
        assert!(matches!(
            Params::parse(None, Some("application/json"), b"{not json"),
            Err(ApiError::Error(_, m)) if m == BAD_BODY
        ));
        let mut p =
            Params::from_value(json!({"masked": "maybe", "protected": "true", "n": "12", "name": " "}));
        assert_eq!(p.boolean("protected"), Some(true));
        assert_eq!(p.boolean("masked"), None);
        assert_eq!(p.integer("n"), Some(12));
        p.required_string("key");
        p.required_nonblank("name");
        let Err(ApiError::Error(_, message)) = p.check() else { panic!() };
        assert_eq!(message, "masked is invalid, key is missing, name is empty");
    }
}
