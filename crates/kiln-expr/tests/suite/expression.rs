//! `Expression::parse` and `evaluate`, one case per line: values, operators, precedence, regexes,
//! Ruby's truthiness, GitLab's lenient parser, and every syntax error with its column.

use std::collections::HashMap;

use kiln_expr::{EvalErrorKind, Expression, InputValue, ParseErrorKind};

fn vars() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("PRESENT", "my variable"),
        ("EMPTY", ""),
        ("BLANK", " \t "),
        ("NBSP", "\u{a0}"),
        ("BRANCH", "main"),
        ("TAG", "v1.2.3"),
        ("RE", "/^v\\d+/"),
        ("RE_I", "/MAIN/i"),
        ("RE_BAD", "/(/"),
        ("RE_SLASH", "/^a\\/path/"),
        ("PATH", "a/path/value"),
        ("X1", "ten"),
        ("UNI", "ünïcode"),
        ("ARABIC_DIGITS", "١٢٣"),
        ("MULTI", "one\ntwo"),
        ("SENTENCE", "main branch"),
    ])
}

/// `eval!(test_name, expression, expected)`.
macro_rules! eval {
    ($name:ident, $src:expr, $want:expr) => {
        #[test]
        fn $name() {
            let expr = Expression::parse($src).unwrap_or_else(|e| panic!("{:?}: {e}", $src));
            assert_eq!(expr.evaluate(&vars()), Ok($want), "{:?}", $src);
        }
    };
}

/// `invalid!(test_name, expression, column, kind)`.
macro_rules! invalid {
    ($name:ident, $src:expr, $column:expr, $kind:ident) => {
        #[test]
        fn $name() {
            let err = Expression::parse($src).expect_err($src);
            assert_eq!((err.column, err.kind), ($column, ParseErrorKind::$kind), "{:?}: {err}", $src);
        }
    };
}

/// `fails!(test_name, expression, column, kind)`: parses, but GitLab's evaluation raises.
macro_rules! fails {
    ($name:ident, $src:expr, $column:expr, $kind:ident) => {
        #[test]
        fn $name() {
            let err = Expression::parse($src).unwrap().evaluate(&vars()).expect_err($src);
            assert_eq!((err.column, err.kind), ($column, EvalErrorKind::$kind), "{:?}: {err}", $src);
        }
    };
}

// Presence: set and not blank.
eval!(present_variable, "$PRESENT", true);
eval!(empty_variable, "$EMPTY", false);
eval!(undefined_variable, "$UNDEFINED", false);
eval!(whitespace_only_is_blank, "$BLANK", false);
eval!(unicode_whitespace_is_blank, "$NBSP", false);
eval!(bare_string, "'x'", true);
eval!(bare_empty_string, "''", false);
eval!(bare_null, "null", false);
eval!(bare_pattern, "/ab/", true);

// null.
eval!(undefined_equals_null, "$UNDEFINED == null", true);
eval!(empty_is_not_null, "$EMPTY == null", false);
eval!(empty_not_null, "$EMPTY != null", true);
eval!(null_equals_null, "null == null", true);
eval!(two_undefined_are_equal, "$UNDEFINED == $ALSO_UNDEFINED", true);

// Strings and comparisons.
eval!(double_quoted, r#"$BRANCH == "main""#, true);
eval!(single_quoted, "$BRANCH == 'main'", true);
eval!(string_on_the_left, "'main' == $BRANCH", true);
eval!(not_equals, "$BRANCH != 'main'", false);
eval!(comparison_is_case_sensitive, "$BRANCH == 'MAIN'", false);
eval!(empty_strings_are_equal, r#"'' == """#, true);
eval!(empty_string_equals_empty_variable, r#""" == $EMPTY"#, true);
eval!(other_quote_inside_a_string, r#""it's" == "it's""#, true);
eval!(no_escapes_in_strings, r#""a\n" == 'a\n'"#, true);
eval!(variable_to_variable, "$BRANCH == $TAG", false);
eval!(variable_to_itself, "$BRANCH == $BRANCH", true);
eval!(unicode_string, "$UNI == 'ünïcode'", true);
eval!(names_with_digits, "$X1 == 'ten'", true);
eval!(names_may_start_with_a_digit, "$1 == null", true);

// Booleans (GitLab's `Lexeme::Boolean`).
eval!(bare_true, "true", true);
eval!(bare_false, "false", false);
eval!(true_equals_true, "true == true", true);
eval!(boolean_is_not_the_string, "'true' == true", false);
eval!(true_and_undefined_match, "true && $UNDEFINED =~ /12/", false);

// Ruby's && and ||: they return an operand, and "" counts as true inside them.
eval!(and_of_present, "$PRESENT && $BRANCH", true);
eval!(and_returns_the_right_operand, "$EMPTY && $PRESENT", true);
eval!(and_returns_the_blank_right_operand, "$PRESENT && $EMPTY", false);
eval!(and_stops_at_nil, "$UNDEFINED && $PRESENT", false);
eval!(or_returns_the_blank_left_operand, "$EMPTY || $PRESENT", false);
eval!(or_skips_nil, "$UNDEFINED || $PRESENT", true);
eval!(or_of_two_empty, "$EMPTY || $EMPTY", false);

// Precedence and parentheses.
eval!(and_binds_tighter_than_or, "'a' == 'a' || 'a' == 'b' && 'x' == 'y'", true);
eval!(parentheses_override, "('a' == 'a' || 'a' == 'b') && 'x' == 'y'", false);
eval!(comparison_binds_tighter_than_and, "$BRANCH == 'main' && $TAG == 'v1.2.3'", true);
eval!(nested_parentheses, "((($PRESENT)))", true);
eval!(nested_mixed, "($PRESENT && ($UNDEFINED || $BRANCH == 'main'))", true);
eval!(equality_of_grouped_values, "('x' || 'y') == 'x'", true);
eval!(equality_with_a_group_on_the_right, "'string' == ('test' && 'string')", true);

// Layout.
eval!(surrounding_whitespace, "  $PRESENT \t", true);
eval!(newlines_and_tabs_between_tokens, "$BRANCH\n==\t'main'", true);
eval!(no_spaces_at_all, "$BRANCH=='main'&&$TAG=~/^v1/", true);

// GitLab's shunting-yard parser does not check that operands and operators alternate.
eval!(operator_after_its_operands, "$BRANCH 'main' ==", true);
eval!(operator_before_its_operands, "== $BRANCH 'main'", true);
eval!(empty_parentheses_after_a_value, "$PRESENT ()", true);

// Regex literals.
eval!(regex_match, "$TAG =~ /^v\\d+/", true);
eval!(regex_no_match, "$BRANCH =~ /^v\\d+/", false);
eval!(regex_negated, "$TAG !~ /^v/", false);
eval!(regex_case_insensitive, "$TAG =~ /^V1/i", true);
eval!(regex_unicode_case_folding, "'ÜBER' =~ /^über$/i", true);
eval!(regex_escaped_slash, "$PATH =~ /^a\\/path\\//", true);
eval!(regex_undefined_is_empty_text, "$UNDEFINED =~ /^$/", true);
eval!(regex_undefined_does_not_match_text, "$UNDEFINED =~ /ab/", false);
eval!(regex_undefined_negated, "$UNDEFINED !~ /ab/", true);
eval!(regex_multiline_flag, "$MULTI =~ /^two$/m", true);
eval!(regex_without_multiline_flag, "$MULTI =~ /^two$/", false);
eval!(regex_dotall_flag, "$MULTI =~ /one.two/s", true);
eval!(regex_without_dotall_flag, "$MULTI =~ /one.two/", false);
eval!(regex_repeated_flags, "$TAG =~ /^V1/ii", true);
eval!(regex_digit_class_is_ascii, "$ARABIC_DIGITS =~ /^\\d+$/", false);
eval!(regex_word_class_is_ascii, "$UNI =~ /^\\w+$/", false);
eval!(regex_word_boundary_is_ascii, "'éx' =~ /\\bx/", true);
eval!(regex_literal_brace, "'a{b}' =~ /a{b}/", true);
eval!(regex_counted_repetition, "'aaa' =~ /^a{3}$/", true);
eval!(regex_with_a_double_slash, "'a/' =~ /a//", true);

// Regexes in variables, and strings on the right of =~.
eval!(variable_regex, "$TAG =~ $RE", true);
eval!(variable_regex_with_flags, "$BRANCH =~ $RE_I", true);
eval!(variable_regex_with_escaped_slash, "$PATH =~ $RE_SLASH", true);
eval!(variable_regex_invalid_is_a_plain_string, "$TAG =~ $RE_BAD", false);
eval!(variable_regex_invalid_contains_itself, "$RE_BAD =~ $RE_BAD", true);
eval!(string_regex, "$BRANCH =~ '/AI/i'", true);
eval!(single_character_regex_in_a_string, "'a' =~ '/a/'", true);
eval!(plain_string_contains_the_left_text, "$BRANCH =~ $SENTENCE", true);
eval!(plain_string_must_contain_the_left_text, "$SENTENCE =~ $BRANCH", false);
eval!(plain_string_contains_empty_text, "$UNDEFINED =~ 'abc'", true);
eval!(plain_string_negated, "$BRANCH !~ 'main branch'", false);
eval!(match_against_null, "$BRANCH =~ null", false);
eval!(not_match_against_null, "$BRANCH !~ null", true);
eval!(match_against_undefined, "$BRANCH =~ $UNDEFINED", false);
eval!(not_match_against_undefined, "$BRANCH !~ $UNDEFINED", true);
eval!(match_against_false, "$BRANCH =~ false", false);

// Patterns compared with ==.
eval!(patterns_compare_by_source, "/ab/ == /ab/", true);
eval!(flags_are_part_of_the_source, "/ab/i == /ab/", false);
eval!(string_is_not_a_pattern, "'ab' == /ab/", false);

// Token limit: GitLab reads at most 99 tokens.
#[test]
fn ninety_nine_tokens_parse() {
    let src = vec!["$PRESENT"; 50].join(" && "); // 50 values + 49 operators
    assert_eq!(Expression::parse(&src).unwrap().evaluate(&vars()), Ok(true));
}

#[test]
fn one_hundred_tokens_are_too_many() {
    // A valid expression always has an odd number of tokens; an unclosed `(` makes it 100, and the
    // lexer's limit is reported before the parser would see the parenthesis.
    let src = format!("({}", vec!["$PRESENT"; 50].join(" && "));
    assert_eq!(Expression::parse(&src).unwrap_err().kind, ParseErrorKind::TooManyTokens);
}

#[test]
fn inputs_are_typed() {
    let expr = Expression::parse("$[[ inputs.env ]] == 'prod' && $[[inputs.debug]] == true").unwrap();
    let inputs = HashMap::from([("env", InputValue::String("prod")), ("debug", InputValue::Boolean(true))]);
    assert_eq!(expr.evaluate_with_inputs(&vars(), &inputs), Ok(true));
    let inputs = HashMap::from([("env", InputValue::String("prod")), ("debug", InputValue::String("true"))]);
    assert_eq!(expr.evaluate_with_inputs(&vars(), &inputs), Ok(false));
    assert_eq!(expr.evaluate(&vars()), Ok(false), "without inputs every input is null");
    assert_eq!(expr.input_names(), ["env", "debug"]);
}

#[test]
fn input_names_are_listed_once() {
    let expr = Expression::parse("$[[ inputs.env ]] == 'a' || $[[ inputs.env ]] == 'b' && $VAR").unwrap();
    assert_eq!(expr.input_names(), ["env"]);
}

#[test]
fn numbers_compare_like_ruby() {
    let expr = Expression::parse("$[[ inputs.n ]] == $[[ inputs.f ]] && $[[ inputs.n ]] =~ /^3$/").unwrap();
    let inputs = HashMap::from([("n", InputValue::Integer(3)), ("f", InputValue::Float(3.0))]);
    assert_eq!(expr.evaluate_with_inputs(&vars(), &inputs), Ok(true));
}

#[test]
fn a_parsed_expression_is_reusable() {
    let expr = Expression::parse("$BRANCH == 'main'").unwrap();
    assert_eq!(expr.evaluate(&vars()), Ok(true));
    assert_eq!(expr.evaluate(&HashMap::from([("BRANCH", "dev")])), Ok(false));
}

#[test]
fn parse_errors_display_gitlab_wording_and_the_column() {
    let err = Expression::parse("${VAR} == 'true'").unwrap_err();
    assert_eq!(err.to_string(), "invalid expression syntax at column 1: unknown lexeme found");
}

invalid!(empty_expression, "", 1, EmptyExpression);
invalid!(whitespace_expression, " \n ", 1, EmptyExpression);
invalid!(braced_variable_is_rejected, "${VAR} == 'true'", 1, UnknownLexeme);
invalid!(single_equals, "$VAR = 'x'", 6, UnknownLexeme);
invalid!(lone_dollar, "$", 1, UnknownLexeme);
invalid!(single_ampersand, "$A == 'x' & $B", 11, UnknownLexeme);
invalid!(unterminated_string, "$A == 'x", 7, UnknownLexeme);
invalid!(string_across_lines, "$A == 'x\ny'", 7, UnknownLexeme);
invalid!(bare_word, "$A == main", 7, UnknownLexeme);
invalid!(word_glued_to_a_boolean, "truex", 1, UnknownLexeme);
invalid!(word_glued_to_null, "nulll", 5, UnknownLexeme);
invalid!(column_counts_characters, "'ü' == ü", 8, UnknownLexeme);
invalid!(single_character_regex_literal, "$A =~ /a/", 7, UnknownLexeme);
invalid!(empty_regex_literal, "$A =~ //", 7, UnknownLexeme);
invalid!(regex_literal_ends_at_its_first_slash, "'test/url' =~ /test/ur/", 21, UnknownLexeme);
invalid!(unknown_regex_flag, "$A =~ /ab/x", 11, UnknownLexeme);
invalid!(invalid_regex, "$A =~ /a(b/", 7, InvalidRegularExpression);
invalid!(lookbehind_is_not_re2, "$A =~ /(?<=a)b/", 7, InvalidRegularExpression);
invalid!(backreference_is_not_re2, "$A =~ /(a)\\1/", 7, InvalidRegularExpression);
invalid!(verbose_flag_is_not_re2, "$A =~ /(?x)ab/", 7, InvalidRegularExpression);
invalid!(huge_repetition_is_not_re2, "$A =~ /a{1001}/", 7, InvalidRegularExpression);
invalid!(missing_right_operand, "$A ==", 4, InvalidLeftOperand);
invalid!(operator_alone, "&&", 1, InvalidLeftOperand);
invalid!(two_values, "$A $B", 4, UnreachableNodes);
// The column is the second tree's leftmost token: GitLab's parser glues `'a' == $B` with the first `==`.
invalid!(two_comparisons_without_operator, "$A == 'a' $B == 'b'", 4, UnreachableNodes);
invalid!(unclosed_parenthesis, "($A", 1, UnprocessableToken);
invalid!(unopened_parenthesis, "$A)", 3, UnmatchedParenthesis);
invalid!(empty_parentheses, "()", 1, EmptyParseTree);

fails!(match_against_true, "$A =~ true", 4, NotAPattern);
fails!(pattern_compared_with_a_string, "/ab/ == 'x'", 6, RegexComparison);
