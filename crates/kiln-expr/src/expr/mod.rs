//! The `rules:if` expression language: [`Expression`], its parse and evaluation errors.
//!
//! The pipeline follows GitLab's `Gitlab::Ci::Pipeline::Expression`: a lexer ([`lexer`]), a shunting-yard
//! parser ([`parser`]) and an evaluator with Ruby's value semantics ([`eval`]).

mod eval;
mod lexer;
mod parser;

use std::fmt;

use crate::{Inputs, Lookup, NoInputs};

/// A parsed `rules:if` (also `only:variables`, `workflow:rules:if`, `include:rules:if`) expression,
/// ready to be evaluated against any number of variable sets.
///
/// ```
/// use std::collections::HashMap;
/// use kiln_expr::Expression;
///
/// let rule = Expression::parse(r#"$CI_COMMIT_BRANCH == "main" || $CI_COMMIT_TAG =~ /^v\d+/"#).unwrap();
/// assert!(rule.evaluate(&HashMap::from([("CI_COMMIT_TAG", "v1.2")])).unwrap());
/// assert!(!rule.evaluate(&HashMap::from([("CI_COMMIT_BRANCH", "dev")])).unwrap());
/// ```
#[derive(Clone, Debug)]
pub struct Expression {
    root: parser::Node,
}

impl Expression {
    /// Parses an expression, or says why GitLab would call it "invalid expression syntax".
    ///
    /// Regex literals are compiled here, so a bad `/pattern/` is a parse error, as in GitLab.
    pub fn parse(src: &str) -> Result<Expression, ParseError> {
        let tokens = lexer::tokenize(src)?;
        if tokens.is_empty() {
            return Err(ParseError::new(1, ParseErrorKind::EmptyExpression));
        }
        Ok(Expression { root: parser::parse(tokens)? })
    }

    /// Evaluates the expression against `vars`; `$[[ inputs.NAME ]]` references evaluate to `null`.
    ///
    /// `Ok` carries GitLab's verdict (`Statement#truthful?`): the Ruby value of the expression, then
    /// `present?`. So a bare `$VAR` is true when `VAR` is set to something other than blank (empty or
    /// white space only), and `$EMPTY && $SET` is true because Ruby's `&&` treats `""` as true.
    ///
    /// `Err` is returned only where GitLab's evaluation raises a Ruby error rather than answering (see
    /// [`EvalErrorKind`]): matching against `true` or a number, or comparing a pattern with something
    /// else. Variables alone never cause one, since they always hold strings. A caller imitating
    /// `Statement#truthful?` treats an `Err` as "does not match".
    pub fn evaluate(&self, vars: &impl Lookup) -> Result<bool, EvalError> {
        self.evaluate_with_inputs(vars, &NoInputs)
    }

    /// Like [`evaluate`](Self::evaluate), with the `spec:inputs` values that `$[[ inputs.NAME ]]` reads.
    pub fn evaluate_with_inputs(&self, vars: &impl Lookup, inputs: &impl Inputs) -> Result<bool, EvalError> {
        Ok(eval::evaluate(&self.root, vars, inputs)?.is_present())
    }

    /// The names of the inputs the expression reads, each once, in order of appearance
    /// (GitLab's `Statement#input_names`).
    pub fn input_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let mut pending = vec![&self.root];
        while let Some(node) = pending.pop() {
            match node {
                parser::Node::Input(name) if !names.contains(&name.as_str()) => names.push(name),
                parser::Node::Binary { left, right, .. } => {
                    pending.push(right);
                    pending.push(left);
                }
                _ => {}
            }
        }
        names
    }
}

/// Why an expression is not valid syntax. Displays as `invalid expression syntax at column N: ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid expression syntax at column {column}: {kind}")]
pub struct ParseError {
    /// 1-based column, counted in characters, of the token (or the position) at fault.
    pub column: usize,
    /// What is wrong, in GitLab's words.
    pub kind: ParseErrorKind,
}

impl ParseError {
    fn new(column: usize, kind: ParseErrorKind) -> Self {
        ParseError { column, kind }
    }
}

/// The reasons GitLab's lexer and parser give for rejecting an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Nothing but white space (GitLab's bare `StatementError`).
    EmptyExpression,
    /// No lexeme matches here, for example `${VAR}`, `=`, or a stray word.
    UnknownLexeme,
    /// 100 tokens or more (`Lexer::MAX_TOKENS`).
    TooManyTokens,
    /// A `/pattern/` that RE2 would not compile.
    InvalidRegularExpression,
    /// A `)` with no `(` before it.
    UnmatchedParenthesis,
    /// A `(` that is never closed.
    UnprocessableToken,
    /// An operator with a missing operand, for example `$A ==`.
    InvalidLeftOperand,
    /// Values with no operator between them, for example `$A $B`.
    UnreachableNodes,
    /// Parentheses with nothing inside, for example `()`.
    EmptyParseTree,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseErrorKind::EmptyExpression => "empty expression",
            ParseErrorKind::UnknownLexeme => "unknown lexeme found",
            ParseErrorKind::TooManyTokens => "too many tokens",
            ParseErrorKind::InvalidRegularExpression => "invalid regular expression",
            ParseErrorKind::UnmatchedParenthesis => "unmatched parenthesis",
            ParseErrorKind::UnprocessableToken => "unprocessable token found in parse tree: parenthesis_open",
            ParseErrorKind::InvalidLeftOperand => "invalid left operand",
            ParseErrorKind::UnreachableNodes => "unreachable nodes in parse tree",
            ParseErrorKind::EmptyParseTree => "empty parse tree",
        })
    }
}

/// An expression that parsed but cannot be evaluated with these values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot evaluate expression at column {column}: {kind}")]
pub struct EvalError {
    /// 1-based column, in characters, of the operator that failed.
    pub column: usize,
    /// What went wrong.
    pub kind: EvalErrorKind,
}

impl EvalError {
    fn new(column: usize, kind: EvalErrorKind) -> Self {
        EvalError { column, kind }
    }
}

/// Where GitLab's evaluation raises a Ruby `NoMethodError` (an internal error in GitLab, not a verdict).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvalErrorKind {
    /// The right operand of `=~` or `!~` is `true` or a number, for example `$A =~ true`.
    NotAPattern,
    /// A pattern on the left of `==` or `!=` with something else on the right (`/a.+/ == "x"`), or a
    /// number on the left with a pattern on the right. (A string or `null` on the left is simply unequal.)
    RegexComparison,
}

impl fmt::Display for EvalErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvalErrorKind::NotAPattern => "the right operand of a match is neither a string nor a pattern",
            EvalErrorKind::RegexComparison => "a pattern can only be compared with another pattern",
        })
    }
}
