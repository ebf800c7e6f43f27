//! Plain-scalar resolution exactly as Ruby's Psych (YAML 1.1) does it.
//!
//! GitLab parses `.gitlab-ci.yml` with Psych's `safe_load`, so `on`, `yes` and
//! `Off` are booleans, `0755` is the octal integer 493, `1_000` is 1000, and
//! `12:30` is the sexagesimal integer 750. Dates and times are classes that
//! `safe_load` refuses, which fails the whole file; we report the same.
//!
//! The branches below follow `Psych::ScalarScanner#tokenize` in order.

use crate::yaml::node::Value;

/// What a plain scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Value(Value),
    /// A value of a Ruby class that GitLab's `safe_load` does not permit.
    Disallowed(&'static str),
}

/// Resolves an unquoted, untagged scalar.
pub(crate) fn resolve_plain(s: &str) -> Resolved {
    use Resolved::Value as V;
    if s.is_empty() {
        return V(Value::Null);
    }
    if starts_like_a_word(s) || s.contains('\n') {
        if s.chars().count() > 5 {
            return V(Value::Str(s.into()));
        }
        let lower = s.to_ascii_lowercase();
        return V(match lower.as_str() {
            "~" | "null" => Value::Null,
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => Value::Str(s.into()),
        });
    }
    if is_time(s) {
        return Resolved::Disallowed("Time");
    }
    if let Some(valid) = date_validity(s) {
        return if valid { Resolved::Disallowed("Date") } else { V(Value::Str(s.into())) };
    }
    match s.to_ascii_lowercase().as_str() {
        ".inf" | "+.inf" => return V(Value::Float(f64::INFINITY)),
        "-.inf" => return V(Value::Float(f64::NEG_INFINITY)),
        ".nan" => return V(Value::Float(f64::NAN)),
        _ => {}
    }
    if s.starts_with(':') && s.len() > 1 {
        // A Ruby Symbol. GitLab's validators never accept one where they
        // expect a string, so keeping the text is enough to reject it later.
        return V(Value::Str(s.into()));
    }
    if let Some(v) = sexagesimal(s) {
        return V(v);
    }
    if is_float(s) {
        let cleaned: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
        let cleaned = cleaned.strip_suffix('.').unwrap_or(&cleaned);
        if cleaned.is_empty() || cleaned == "-" || cleaned == "+" {
            return V(Value::Str(s.into()));
        }
        return match cleaned.parse::<f64>() {
            Ok(f) => V(Value::Float(f)),
            Err(_) => V(Value::Str(s.into())),
        };
    }
    let cleaned: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
    match parse_int(&cleaned) {
        Some(i) => V(Value::Int(i)),
        None => V(Value::Str(s.into())),
    }
}

/// `/^[^\d\.:-]?[A-Za-z_\s!@#\$%\^&\*\(\)\{\}\<\>\|\/\\~;=]+/`
fn starts_like_a_word(s: &str) -> bool {
    fn word(c: char) -> bool {
        c.is_ascii_alphabetic() || c.is_whitespace() || "_!@#$%^&*(){}<>|/\\~;=".contains(c)
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return false };
    if word(first) {
        return true;
    }
    let optional_prefix = !(first.is_ascii_digit() || matches!(first, '.' | ':' | '-'));
    optional_prefix && chars.next().is_some_and(word)
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    (n >= min).then(|| s.split_at(n))
}

/// Psych's `TIME`: `-?YYYY-M-D(T| +)H:MM:SS(.f)?( *(Z|±H(:?MM)?))?`
fn is_time(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let Some((_, rest)) = take_digits(s, 4, 4) else { return false };
    let Some(rest) = rest.strip_prefix('-') else { return false };
    let Some((_, rest)) = take_digits(rest, 1, 2) else { return false };
    let Some(rest) = rest.strip_prefix('-') else { return false };
    let Some((_, rest)) = take_digits(rest, 1, 2) else { return false };
    let rest = if let Some(r) = rest.strip_prefix(['T', 't']) {
        r
    } else {
        let trimmed = rest.trim_start_matches(char::is_whitespace);
        if trimmed.len() == rest.len() {
            return false;
        }
        trimmed
    };
    let Some((_, rest)) = take_digits(rest, 1, 2) else { return false };
    let Some(rest) = rest.strip_prefix(':') else { return false };
    let Some((_, rest)) = take_digits(rest, 2, 2) else { return false };
    let Some(rest) = rest.strip_prefix(':') else { return false };
    let Some((_, mut rest)) = take_digits(rest, 2, 2) else { return false };
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.trim_start_matches(char::is_whitespace);
    if rest.is_empty() || rest == "Z" {
        return true;
    }
    let Some(rest) = rest.strip_prefix(['+', '-']) else { return false };
    let Some((_, rest)) = take_digits(rest, 1, 2) else { return false };
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    rest.is_empty() || take_digits(rest, 2, 2).is_some_and(|(_, r)| r.is_empty())
}

/// Psych's date pattern `YYYY-MM-DD`; `Some(true)` when it is also a real
/// calendar date (Psych keeps impossible dates such as `2023-02-30` as strings).
fn date_validity(s: &str) -> Option<bool> {
    let (year, rest) = take_digits(s, 4, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = take_digits(rest, 1, 2)?;
    if !rest.is_empty() {
        return None;
    }
    let (year, month, day): (i64, u32, u32) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    if month > 12 || day > 31 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    Some(day >= 1 && day <= days)
}

/// Base-60 integers (`1:30` = 90) and floats (`1:30.5`).
fn sexagesimal(s: &str) -> Option<Value> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let negative = s.starts_with('-');
    let mut parts = body.split(':');
    let head = parts.next()?;
    if head.is_empty() || !head.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return None;
    }
    let (last, middle) = rest.split_last()?;
    let base60 = |p: &str| {
        !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()) && {
            let (first, second) = (p.as_bytes()[0], p.as_bytes().get(1));
            second.is_none() || first <= b'5'
        }
    };
    if !middle.iter().all(|p| base60(p)) {
        return None;
    }
    let (last_int, fraction) = match last.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (*last, None),
    };
    if !base60(last_int) {
        return None;
    }
    if let Some(frac) = fraction
        && !frac.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    // Psych multiplies part `e` by 60 ** |e - 2| (so `1:30` is 5400: it reads
    // two parts as hours and minutes) and only the first part carries the
    // sign (`-1:30` is -3600 + 1800). Both quirks are GitLab's behaviour.
    let all: Vec<&str> = std::iter::once(head).chain(middle.iter().copied()).chain([last_int]).collect();
    let sign: i32 = if negative { -1 } else { 1 };
    match fraction {
        None => {
            let mut total: i64 = 0;
            for (i, part) in all.iter().enumerate() {
                let mut n: i64 = part.replace('_', "").parse().ok()?;
                if i == 0 {
                    n *= i64::from(sign);
                }
                let exp = u32::try_from((i as i64 - 2).unsigned_abs()).ok()?;
                total = total.checked_add(n.checked_mul(60i64.checked_pow(exp)?)?)?;
            }
            Some(Value::Int(total))
        }
        Some(frac) => {
            let mut total = 0f64;
            for (i, part) in all.iter().enumerate() {
                let mut text = part.replace('_', "");
                if i + 1 == all.len() {
                    text = format!("{text}.{}", frac.replace('_', ""));
                }
                let mut n: f64 = text.parse().ok()?;
                if i == 0 {
                    n *= f64::from(sign);
                }
                total += n * 60f64.powi((i as i32 - 2).abs());
            }
            Some(Value::Float(total))
        }
    }
}

/// Psych's base-10 `FLOAT`: `[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?`
fn is_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some((int, rest)) = body.split_once('.') else { return false };
    if !int.is_empty()
        && (!int.starts_with(|c: char| c.is_ascii_digit())
            || !int.chars().all(|c| c.is_ascii_digit() || c == '_' || c == ','))
    {
        return false;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let exponent = &rest[digits..];
    if exponent.is_empty() {
        return true;
    }
    let Some(exp) = exponent.strip_prefix(['e', 'E']) else { return false };
    let Some(exp) = exp.strip_prefix(['-', '+']) else { return false };
    !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
}

/// Psych's `INTEGER` pattern, then Ruby's `Integer()`.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::{Resolved, resolve_plain};
    use crate::yaml::node::Value;

    fn v(s: &str) -> Value {
        match resolve_plain(s) {
            Resolved::Value(v) => v,
            Resolved::Disallowed(class) => panic!("{s:?} resolved to a disallowed {class}"),
        }
    }

    #[test]
    fn booleans_and_null_follow_yaml_1_1() {
        for s in ["yes", "Yes", "YES", "true", "True", "on", "ON", "On", "yEs"] {
            assert_eq!(v(s), Value::Bool(true), "{s}");
        }
        for s in ["no", "No", "false", "off", "OFF"] {
            assert_eq!(v(s), Value::Bool(false), "{s}");
        }
        for s in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(v(s), Value::Null, "{s}");
        }
        for s in ["y", "n", "yess", "nope", "truely", "onward", "Offset"] {
            assert_eq!(v(s), Value::Str(s.into()), "{s}");
        }
    }

    #[test]
    fn integers_cover_octal_hex_binary_separators_and_base_60() {
        for (s, i) in [
            ("0", 0),
            ("42", 42),
            ("-17", -17),
            ("+5", 5),
            ("0755", 493),
            ("0x1F", 31),
            ("0b101", 5),
            ("1_000", 1000),
            ("1,000", 1000),
            // Psych's base 60 reads two parts as hours and minutes, and
            // the sign applies to the first part only.
            ("1:30", 5400),
            ("1:00:00", 3600),
            ("1:02:03", 3723),
            ("-1:30", -1800),
        ] {
            assert_eq!(v(s), Value::Int(i), "{s}");
        }
        for s in ["08", "0x", "0o755", "1.2.3", "12a", "1:60", "v1"] {
            assert_eq!(v(s), Value::Str(s.into()), "{s}");
        }
    }

    #[test]
    fn floats() {
        for (s, f) in
            [("1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("-2.0", -2.0), ("1.0e+3", 1000.0), ("1_0.5", 10.5)]
        {
            assert_eq!(v(s), Value::Float(f), "{s}");
        }
        assert!(matches!(v(".nan"), Value::Float(f) if f.is_nan()));
        assert_eq!(v(".inf"), Value::Float(f64::INFINITY));
        assert_eq!(v("-.Inf"), Value::Float(f64::NEG_INFINITY));
        for s in [".", "-.", "1e3", "1.0e3"] {
            assert_eq!(v(s), Value::Str(s.into()), "{s}");
        }
    }

    #[test]
    fn dates_and_times_are_refused_like_safe_load() {
        assert_eq!(resolve_plain("2024-01-31"), Resolved::Disallowed("Date"));
        assert_eq!(resolve_plain("2001-12-14t21:59:43.10-05:00"), Resolved::Disallowed("Time"));
        assert_eq!(resolve_plain("2001-12-14 21:59:43"), Resolved::Disallowed("Time"));
        assert_eq!(v("2023-02-30"), Value::Str("2023-02-30".into()));
        assert_eq!(v("2023-1-2-3"), Value::Str("2023-1-2-3".into()));
    }

    #[test]
    fn words_and_symbols_stay_strings() {
        for s in ["hello", "echo hi", "$CI_COMMIT_BRANCH", "/bin/sh", ":sym", "a1", "1a", "-x", "-"] {
            assert_eq!(v(s), Value::Str(s.into()), "{s}");
        }
    }
}
