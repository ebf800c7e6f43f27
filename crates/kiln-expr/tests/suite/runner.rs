//! `expand_runner` (gitlab-runner's `Variables.ExpandValue`, Go's `os.Expand`), one case per line.

use kiln_expr::expand_runner;

fn vars() -> Vec<(&'static str, &'static str)> {
    vec![("A", "a"), ("REF", "$A"), ("DUP", "first"), ("DUP", "last"), ("A B", "spaced")]
}

/// `runner!(test_name, input, expected)`.
macro_rules! runner {
    ($name:ident, $input:expr, $want:expr) => {
        #[test]
        fn $name() {
            assert_eq!(expand_runner($input, &vars()), $want, "expand_runner({:?})", $input);
        }
    };
}

runner!(dollar_name, "$A", "a");
runner!(braced_name, "x${A}y", "xay");
runner!(percent_is_not_a_reference, "%A%", "%A%");
runner!(double_dollar_escapes, "$$A", "$A");
runner!(triple_dollar, "$$$A", "$a");
runner!(lone_dollar_stays, "$", "$");
runner!(dollar_at_end_stays, "a$", "a$");
runner!(dollar_before_space_stays, "$ A", "$ A");
runner!(empty_braces_are_dropped, "x${}y", "xy");
runner!(unterminated_brace_drops_the_opening, "x${A", "xA");
runner!(braces_take_any_text, "${A B}", "spaced");
runner!(positional_parameters_are_empty, "$1A $*", "A ");
runner!(braced_dollar_is_a_dollar, "${$}", "$");
runner!(dash_is_special, "$-x", "x");
runner!(unknown_is_empty, "[$UNSET]", "[]");
runner!(unicode_after_dollar_stays, "$ü", "$ü");
runner!(single_pass_only, "$REF", "$A");
runner!(last_definition_wins, "$DUP", "last");
runner!(plain_text, "héllo", "héllo");
