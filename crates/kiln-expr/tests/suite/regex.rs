//! Regexes with RE2's meaning: `$T =~ /pattern/` for one text, one case per line.

use kiln_expr::Expression;

/// `re!(test_name, text, pattern literal, expected)` evaluates `$T =~ <pattern>` with `T` = text.
macro_rules! re {
    ($name:ident, $text:expr, $pattern:expr, $want:expr) => {
        #[test]
        fn $name() {
            let src = format!("$T =~ {}", $pattern);
            let expr = Expression::parse(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(expr.evaluate(&vec![("T", $text)]), Ok($want), "{:?} =~ {}", $text, $pattern);
        }
    };
}

re!(digit_is_ascii, "٣", r"/\d/", false);
re!(digit_matches_ascii, "x3", r"/\d/", true);
re!(not_digit_matches_non_ascii_digits, "٣", r"/^\D$/", true);
re!(word_is_ascii, "é", r"/\w/", false);
re!(not_word_matches_non_ascii_letters, "é", r"/^\W$/", true);
re!(space_is_ascii, "\u{a0}", r"/\s/", false);
re!(space_excludes_vertical_tab, "\u{b}", r"/\s/", false);
re!(space_matches_tab, "a\tb", r"/a\sb/", true);
re!(boundary_is_ascii, "éa", r"/\ba/", true);
re!(no_boundary_between_ascii_letters, "ba", r"/\Ba/", true);
re!(classes_inside_brackets, "a-9", r"/^[\w-]+$/", true);
re!(negated_class_inside_brackets, "é", r"/^[^\d\s]$/", true);
re!(posix_class, "1.11", r"/^([[:digit:]]+(.[[:digit:]]+)*|latest)$/", true);
re!(bracket_is_literal_inside_a_class, "[", r"/^[[]$/", true);
re!(ampersands_are_literal_inside_a_class, "&", r"/^[a&&b]$/", true);
re!(tildes_are_literal_inside_a_class, "~", r"/^[~~]$/", true);
re!(closing_bracket_first_is_literal, "]", r"/^[]a]$/", true);
re!(range_in_class, "m", r"/^[a-z]$/", true);
re!(hex_escape, "A", r"/^\x41$/", true);
re!(hex_escape_braced, "é", r"/^\x{e9}$/", true);
re!(octal_escape, "A", r"/^\101$/", true);
re!(quoted_text_is_literal, "a.b*", r"/^\Qa.b*\E$/", true);
re!(quoted_text_does_not_match_like_a_pattern, "axbb", r"/^\Qa.b*\E$/", false);
re!(brace_without_count_is_literal, "a{", r"/a{/", true);
re!(brace_with_open_start_is_literal, "b{,3}", r"/^b{,3}$/", true);
re!(counted_repetition, "bbb", r"/^b{2,3}$/", true);
re!(escaped_punctuation, "a@b", r"/^a\@b$/", true);
re!(unicode_class, "ж", r"/^\p{Cyrillic}$/", true);
re!(case_insensitive_flag_group, "ABC", r"/^a(?i)bc$/", false);
re!(case_insensitive_flag_group_scope, "aBC", r"/^a(?i)bc$/", true);
re!(ungreedy_flag_parses, "aaa", r"/^a+?$/U", true);
re!(named_group, "ab", r"/(?P<x>a)b/", true);
re!(anchors_are_whole_text, "a\nb", r"/^b$/", false);
re!(text_anchor_a_and_z, "ab", r"/\Aab\z/", true);
re!(control_character_in_pattern, "a\u{8}b", "/a\u{8}b/", true);
