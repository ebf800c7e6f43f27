//! `expand` and `expand_existing` (GitLab's `ExpandVariables`), one case per line.

use kiln_expr::{expand, expand_existing};

fn vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("A", "a"),
        ("B", "bee"),
        ("EMPTY", ""),
        ("X1", "ten"),
        ("_U", "under"),
        ("UNI", "ü"),
        ("REF", "$A"),
        ("DUP", "first"),
        ("DUP", "last"),
    ]
}

/// `expand!(test_name, input, expected)`: unknown variables expand to nothing.
macro_rules! expand {
    ($name:ident, $input:expr, $want:expr) => {
        #[test]
        fn $name() {
            assert_eq!(expand($input, &vars()), $want, "expand({:?})", $input);
        }
    };
}

/// `existing!(test_name, input, expected)`: unknown variables are kept verbatim.
macro_rules! existing {
    ($name:ident, $input:expr, $want:expr) => {
        #[test]
        fn $name() {
            assert_eq!(expand_existing($input, &vars()), $want, "expand_existing({:?})", $input);
        }
    };
}

expand!(plain_text_is_unchanged, "plain text", "plain text");
expand!(empty_input, "", "");
expand!(dollar_name, "$A", "a");
expand!(braced_name, "${A}", "a");
expand!(percent_name, "%A%", "a");
expand!(name_ends_at_a_non_word_character, "$A-$B.txt", "a-bee.txt");
expand!(name_is_greedy, "$AB", "");
expand!(braces_delimit_the_name, "${A}B", "aB");
expand!(adjacent_references, "$A$B%A%${B}", "abeeabee");
expand!(unknown_is_removed, "x$UNSET y", "x y");
expand!(unknown_braced_is_removed, "x${UNSET}y", "xy");
expand!(unknown_percent_is_removed, "x%UNSET%y", "xy");
expand!(defined_empty_is_removed, "[$EMPTY]", "[]");
expand!(double_dollar_is_no_escape_here, "$$A", "$a");
expand!(double_percent_is_no_escape_here, "%%A%%", "%a%");
expand!(dollar_at_end_stays, "costs 5$", "costs 5$");
expand!(lone_dollar_stays, "$", "$");
expand!(dollar_before_space_stays, "$ A", "$ A");
expand!(name_cannot_start_with_a_digit, "$1A", "$1A");
expand!(name_with_digits, "$X1", "ten");
expand!(name_with_underscore, "$_U", "under");
expand!(unterminated_brace_stays, "${A", "${A");
expand!(empty_braces_stay, "${}", "${}");
expand!(spaces_inside_braces_are_not_a_name, "${ A }", "${ A }");
expand!(unterminated_percent_stays, "50%A", "50%A");
expand!(percent_in_prose_stays, "100% done", "100% done");
expand!(unicode_text_around_references, "héllo $A ü", "héllo a ü");
expand!(unicode_value, "$UNI!", "ü!");
expand!(unicode_after_dollar_is_not_a_name, "$ü", "$ü");
expand!(values_are_not_expanded_again, "$REF", "$A");
expand!(last_definition_wins, "$DUP", "last");

existing!(existing_keeps_unknown, "$UNSET", "$UNSET");
existing!(existing_keeps_unknown_braced, "${UNSET}", "${UNSET}");
existing!(existing_keeps_unknown_percent, "%UNSET%", "%UNSET%");
existing!(existing_replaces_known, "$A/${UNSET}/%B%", "a/${UNSET}/bee");
existing!(existing_replaces_defined_empty, "[$EMPTY]", "[]");
existing!(existing_double_dollar, "$$UNSET", "$$UNSET");
existing!(existing_plain_text, "no refs", "no refs");
