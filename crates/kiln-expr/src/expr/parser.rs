//! From tokens to a tree: GitLab's `Expression::Parser`, a shunting-yard pass followed by an RPN build.
//!
//! The algorithm is kept as GitLab has it rather than replaced with a recursive-descent grammar,
//! because its leniency is observable: it never checks that operands and operators alternate, so
//! `$A $B ==` and `== $A $B` both parse as `$A == $B`, and `$A ()` is `$A`. Only what its RPN build
//! rejects is an error here (a missing operand, an unmatched parenthesis, two trees left over).

use crate::expr::lexer::{Lexeme, Token};
use crate::expr::{ParseError, ParseErrorKind};
use crate::re2::Re2;

/// A parsed expression.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Null,
    Boolean(bool),
    String(String),
    Variable(String),
    Input(String),
    Pattern(Box<Re2>),
    Binary {
        op: Operator,
        left: Box<Node>,
        right: Box<Node>,
        /// The operator's column, for evaluation errors.
        column: usize,
    },
}

/// The binary operators, with GitLab's precedences (lower binds tighter, after Ruby's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
    Equals,
    NotEquals,
    Matches,
    NotMatches,
    And,
    Or,
}

impl Operator {
    fn precedence(self) -> u16 {
        match self {
            Operator::Equals | Operator::NotEquals | Operator::Matches | Operator::NotMatches => 10,
            Operator::And => 11,
            Operator::Or => 12,
        }
    }
}

/// One entry of the RPN output (and of the operator stack).
enum Rpn {
    Value(Token),
    Operator(Operator, usize),
    /// A `(` that was never closed ends up in the output, where the build rejects it.
    Open(usize),
}

/// Builds the tree GitLab's `Parser#tree` builds from the same tokens.
pub(crate) fn parse(tokens: Vec<Token>) -> Result<Node, ParseError> {
    let mut results: Vec<(Node, usize)> = Vec::new();
    for entry in to_rpn(tokens)? {
        match entry {
            Rpn::Value(token) => results.push((value(token.lexeme, token.column)?, token.column)),
            Rpn::Operator(op, column) => {
                let right = results.pop();
                let left = results.pop();
                let (Some((left, start)), Some((right, _))) = (left, right) else {
                    return Err(ParseError::new(column, ParseErrorKind::InvalidLeftOperand));
                };
                let node = Node::Binary { op, left: Box::new(left), right: Box::new(right), column };
                results.push((node, start.min(column)));
            }
            Rpn::Open(column) => return Err(ParseError::new(column, ParseErrorKind::UnprocessableToken)),
        }
    }
    if let Some((_, column)) = results.get(1) {
        return Err(ParseError::new(*column, ParseErrorKind::UnreachableNodes));
    }
    results.pop().map(|(node, _)| node).ok_or(ParseError::new(1, ParseErrorKind::EmptyParseTree))
}

/// `Parser#tokens_rpn`: the shunting-yard pass, operators popped while their precedence is not lower.
fn to_rpn(tokens: Vec<Token>) -> Result<Vec<Rpn>, ParseError> {
    let mut output = Vec::with_capacity(tokens.len());
    let mut operators: Vec<Rpn> = Vec::new();
    for token in tokens {
        let column = token.column;
        let op = match token.lexeme {
            Lexeme::ParenthesisOpen => {
                operators.push(Rpn::Open(column));
                continue;
            }
            Lexeme::ParenthesisClose => {
                // `)` has precedence 900: it pops every operator down to the nearest `(` (901).
                while let Some(Rpn::Operator(..)) = operators.last() {
                    output.extend(operators.pop());
                }
                if operators.pop().is_none() {
                    return Err(ParseError::new(column, ParseErrorKind::UnmatchedParenthesis));
                }
                continue;
            }
            Lexeme::Equals => Operator::Equals,
            Lexeme::NotEquals => Operator::NotEquals,
            Lexeme::Matches => Operator::Matches,
            Lexeme::NotMatches => Operator::NotMatches,
            Lexeme::And => Operator::And,
            Lexeme::Or => Operator::Or,
            _ => {
                output.push(Rpn::Value(token));
                continue;
            }
        };
        while let Some(Rpn::Operator(top, _)) = operators.last() {
            if op.precedence() < top.precedence() {
                break;
            }
            output.extend(operators.pop());
        }
        operators.push(Rpn::Operator(op, column));
    }
    output.extend(operators.into_iter().rev());
    Ok(output)
}

/// `Token#build` for a value lexeme.
fn value(lexeme: Lexeme, column: usize) -> Result<Node, ParseError> {
    Ok(match lexeme {
        Lexeme::Null => Node::Null,
        Lexeme::Boolean(b) => Node::Boolean(b),
        Lexeme::String(s) => Node::String(s),
        Lexeme::Variable(name) => Node::Variable(name),
        Lexeme::Input(name) => Node::Input(name),
        Lexeme::Pattern(text) => {
            // `Lexeme::Pattern#initialize` unescapes `\/` before handing `/.../flags` to RubySyntax.
            let regexp = Re2::fabricate(&text.replace("\\/", "/"))
                .ok_or(ParseError::new(column, ParseErrorKind::InvalidRegularExpression))?;
            Node::Pattern(Box::new(regexp))
        }
        // Operators and parentheses never reach here: `to_rpn` routes them elsewhere.
        _ => return Err(ParseError::new(column, ParseErrorKind::UnprocessableToken)),
    })
}
