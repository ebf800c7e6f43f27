//! Evaluation with Ruby's semantics: what each GitLab lexeme's `evaluate` returns, and `present?`.
//!
//! GitLab evaluates to Ruby values, not booleans. `&&` and `||` are Ruby's, so they return one of their
//! operands and treat only `nil` and `false` as false: `"" && "x"` is `"x"`. Only at the end does
//! `Statement#truthful?` ask `present?`, which is false for `nil`, `false`, and blank strings (empty or
//! only whitespace). [`Value`] keeps those Ruby values until that last step.

use std::borrow::Cow;

use crate::expr::parser::{Node, Operator};
use crate::expr::{EvalError, EvalErrorKind};
use crate::re2::Re2;
use crate::{InputValue, Inputs, Lookup};

/// A Ruby value as GitLab's expression lexemes produce them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Null,
    Boolean(bool),
    String(&'a str),
    Regex(&'a Re2),
    Integer(i64),
    Float(f64),
}

impl<'a> Value<'a> {
    /// Rails' `present?`.
    pub(crate) fn is_present(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Boolean(b) => *b,
            // Rails' `blank?` is `/\A[[:space:]]*\z/`, Unicode white space included.
            Value::String(s) => !s.chars().all(char::is_whitespace),
            Value::Regex(_) | Value::Integer(_) | Value::Float(_) => true,
        }
    }

    /// Ruby truthiness: everything but `nil` and `false`.
    fn is_truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Boolean(false))
    }

    /// Ruby's `to_s`, which `=~` applies to its left operand.
    fn to_ruby_s(self) -> Cow<'a, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Boolean(true) => Cow::Borrowed("true"),
            Value::Boolean(false) => Cow::Borrowed("false"),
            Value::String(s) => Cow::Borrowed(s),
            // Ruby prints an object with its address here; the class name is the stable part of it.
            Value::Regex(_) => Cow::Borrowed("#<Gitlab::UntrustedRegexp>"),
            Value::Integer(n) => Cow::Owned(n.to_string()),
            Value::Float(x) => Cow::Owned(ruby_float(x)),
        }
    }
}

impl<'a> From<InputValue<'a>> for Value<'a> {
    fn from(input: InputValue<'a>) -> Self {
        match input {
            InputValue::String(s) => Value::String(s),
            InputValue::Boolean(b) => Value::Boolean(b),
            InputValue::Integer(n) => Value::Integer(n),
            InputValue::Float(x) => Value::Float(x),
        }
    }
}

/// Evaluates `node` as GitLab's lexemes do, left operand first.
pub(crate) fn evaluate<'a, L, I>(node: &'a Node, vars: &'a L, inputs: &'a I) -> Result<Value<'a>, EvalError>
where
    L: Lookup + ?Sized,
    I: Inputs + ?Sized,
{
    Ok(match node {
        Node::Null => Value::Null,
        Node::Boolean(b) => Value::Boolean(*b),
        Node::String(s) => Value::String(s),
        Node::Variable(name) => vars.get(name).map_or(Value::Null, Value::String),
        Node::Input(name) => inputs.input(name).map_or(Value::Null, Value::from),
        Node::Pattern(regexp) => Value::Regex(regexp),
        Node::Binary { op, left, right, column } => {
            let left = evaluate(left, vars, inputs)?;
            match op {
                Operator::And if !left.is_truthy() => left,
                Operator::Or if left.is_truthy() => left,
                Operator::And | Operator::Or => evaluate(right, vars, inputs)?,
                Operator::Equals => Value::Boolean(equals(left, evaluate(right, vars, inputs)?, *column)?),
                Operator::NotEquals => {
                    Value::Boolean(!equals(left, evaluate(right, vars, inputs)?, *column)?)
                }
                Operator::Matches => {
                    let right = evaluate(right, vars, inputs)?;
                    Value::Boolean(matches(left, right, *column)?.unwrap_or(false))
                }
                Operator::NotMatches => {
                    let right = evaluate(right, vars, inputs)?;
                    Value::Boolean(matches(left, right, *column)?.is_none_or(|found| !found))
                }
            }
        }
    })
}

/// Ruby's `==` between two values, including where Ruby raises instead of answering.
fn equals(left: Value<'_>, right: Value<'_>, column: usize) -> Result<bool, EvalError> {
    Ok(match (left, right) {
        // `UntrustedRegexp#==` compares `source`, which only another regexp has.
        (Value::Regex(a), Value::Regex(b)) => a.source == b.source,
        (Value::Regex(_), _) | (Value::Integer(_) | Value::Float(_), Value::Regex(_)) => {
            return Err(EvalError::new(column, EvalErrorKind::RegexComparison));
        }
        (Value::Null, Value::Null) => true,
        (Value::Boolean(a), Value::Boolean(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Integer(a), Value::Integer(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a == b,
        (Value::Integer(n), Value::Float(x)) | (Value::Float(x), Value::Integer(n)) => {
            integer_equals_float(n, x)
        }
        _ => false,
    })
}

/// Ruby compares an Integer and a Float exactly, not by converting the integer to a float.
fn integer_equals_float(n: i64, x: f64) -> bool {
    // 2^63 as a float; every float in [-2^63, 2^63) with no fraction converts to i64 exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    x.fract() == 0.0 && (-LIMIT..LIMIT).contains(&x) && x as i64 == n
}

/// `Matches#evaluate` without the final negation: `None` when the right operand is `nil` or `false`
/// (GitLab's `return false unless regexp`), otherwise whether the left operand matches.
///
/// A right operand that is a string is first tried as `/pattern/flags` (`Pattern.build_and_evaluate`);
/// when it is not one, or does not compile, Ruby's `String#scan` runs with the string itself as the
/// receiver and the left operand as a literal needle: the result is whether the *right* string
/// contains the left text. So `"23" =~ "1234"` is true.
fn matches(left: Value<'_>, right: Value<'_>, column: usize) -> Result<Option<bool>, EvalError> {
    let text = left.to_ruby_s();
    Ok(Some(match right {
        Value::Null | Value::Boolean(false) => return Ok(None),
        Value::Regex(regexp) => regexp.is_match(&text),
        Value::String(s) => match Re2::fabricate(&s.replace("\\/", "/")) {
            Some(regexp) => regexp.is_match(&text),
            None => s.contains(text.as_ref()),
        },
        // GitLab calls `gsub` on the operand here, which only strings have.
        Value::Boolean(true) | Value::Integer(_) | Value::Float(_) => {
            return Err(EvalError::new(column, EvalErrorKind::NotAPattern));
        }
    }))
}

/// Ruby's `Float#to_s`: plain decimal notation between 1e-4 and 1e16, scientific outside.
fn ruby_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let magnitude = x.abs();
    if x == 0.0 || (1e-4..1e16).contains(&magnitude) {
        let plain = format!("{x}");
        return if plain.contains('.') { plain } else { format!("{plain}.0") };
    }
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
    let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
    format!("{mantissa}e{sign}{digits:0>2}")
}

#[cfg(test)]
mod tests {
    use super::ruby_float;

    #[test]
    fn floats_print_as_ruby_prints_them() {
        assert_eq!(ruby_float(1.0), "1.0");
        assert_eq!(ruby_float(-2.5), "-2.5");
        assert_eq!(ruby_float(1e20), "1.0e+20");
        assert_eq!(ruby_float(0.00001), "1.0e-05");
        assert_eq!(ruby_float(1234.5), "1234.5");
    }
}
