//! Human durations as GitLab's ChronicDuration reads them: `1h 30m`,
//! `2 hours and 10 minutes`, `1:30:00`, `one week`, `3600` (seconds).
//!
//! GitLab runs ChronicDuration with exceptions on, so an unknown word makes
//! the whole value invalid; a value that adds up to zero is not a duration.

const SECOND: f64 = 1.0;
const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86400.0;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;
const YEAR: f64 = 365.25 * DAY;

/// Seconds in `text`, or `None` when ChronicDuration would not parse it (or
/// it adds up to zero).
pub fn parse_duration(text: &str) -> Option<u64> {
    let lower = text.to_lowercase();
    let numerized = numerize(&lower);
    let typed = filter_by_type(&numerized)?;
    let spaced = space_numbers(&typed);
    let words = white_list(&spaced)?;
    let mut total = 0.0f64;
    for (i, word) in words.iter().enumerate() {
        if let Word::Number(n) = word {
            let unit = match words.get(i + 1) {
                Some(Word::Unit(u)) => *u,
                _ => SECOND,
            };
            total += n * unit;
        }
    }
    if !total.is_finite() || total <= 0.0 || total > u64::MAX as f64 {
        return None;
    }
    Some(total as u64)
}

/// `1:30` → `1 minutes 30 seconds`; `1:02:03:04` up to years.
fn filter_by_type(s: &str) -> Option<String> {
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    let is_chrono = compact.contains(':')
        && compact.split(':').all(|part| !part.is_empty() && is_float(part))
        && !compact.starts_with(':');
    if !is_chrono {
        return Some(s.to_string());
    }
    const UNITS: [&str; 6] = ["seconds", "minutes", "hours", "days", "months", "years"];
    let parts: Vec<&str> = compact.split(':').collect();
    let mut out = Vec::new();
    for (k, v) in parts.iter().rev().enumerate() {
        out.push(format!("{v} {}", UNITS.get(k)?));
    }
    out.reverse();
    Some(out.join(" "))
}

fn is_float(s: &str) -> bool {
    let digits_dot = s.chars().all(|c| c.is_ascii_digit() || c == '.');
    digits_dot && s.chars().filter(|c| *c == '.').count() <= 1 && s.chars().any(|c| c.is_ascii_digit())
}

/// Puts spaces around every number (`2h30m` → ` 2 h 30 m`).
fn space_numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in s.chars() {
        let numeric = c.is_ascii_digit() || c == '.';
        if numeric != in_number {
            out.push(' ');
            in_number = numeric;
        }
        out.push(c);
    }
    out
}

enum Word {
    Number(f64),
    Unit(f64),
}

fn white_list(s: &str) -> Option<Vec<Word>> {
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        if word.chars().any(|c| c.is_ascii_digit()) && is_float(word) {
            out.push(Word::Number(word.parse().ok()?));
            continue;
        }
        if word.chars().all(|c| c == '.') {
            // A lone dot around a number, as in `1.`, is dropped by the float matcher.
            continue;
        }
        let stripped = word.trim_start_matches(',').trim_end_matches(',');
        match unit(stripped) {
            Some(u) => out.push(Word::Unit(u)),
            None if matches!(stripped, "and" | "with" | "plus" | "") => {}
            None => return None,
        }
    }
    if matches!(out.first(), Some(Word::Unit(_))) {
        out.insert(0, Word::Number(1.0));
    }
    Some(out)
}

fn unit(word: &str) -> Option<f64> {
    Some(match word {
        "seconds" | "second" | "secs" | "sec" | "s" => SECOND,
        "minutes" | "minute" | "mins" | "min" | "m" => MINUTE,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "days" | "day" | "dy" | "d" => DAY,
        "weeks" | "week" | "wks" | "wk" | "w" => WEEK,
        "months" | "month" | "mos" | "mo" => MONTH,
        "years" | "year" | "yrs" | "yr" | "y" => YEAR,
        _ => return None,
    })
}

/// Number words to digits, as the Numerizer gem does for the common ones.
fn numerize(s: &str) -> String {
    const WORDS: [(&str, &str); 21] = [
        ("zero", "0"),
        ("one", "1"),
        ("two", "2"),
        ("three", "3"),
        ("four", "4"),
        ("five", "5"),
        ("six", "6"),
        ("seven", "7"),
        ("eight", "8"),
        ("nine", "9"),
        ("ten", "10"),
        ("eleven", "11"),
        ("twelve", "12"),
        ("thirteen", "13"),
        ("fourteen", "14"),
        ("fifteen", "15"),
        ("sixteen", "16"),
        ("seventeen", "17"),
        ("eighteen", "18"),
        ("nineteen", "19"),
        ("twenty", "20"),
    ];
    s.split(' ')
        .map(|w| WORDS.iter().find(|(name, _)| *name == w).map_or(w, |(_, digits)| digits))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn reads_chronic_duration_forms() {
        for (text, secs) in [
            ("3600", Some(3600)),
            ("1h", Some(3600)),
            ("1 hour", Some(3600)),
            ("2h30m", Some(9000)),
            ("2 hours and 30 minutes", Some(9000)),
            ("1 hour, 30 mins", Some(5400)),
            ("1 week", Some(604800)),
            ("one week", Some(604800)),
            ("1.5 hours", Some(5400)),
            ("1:30", Some(90)),
            ("1:00:00", Some(3600)),
            ("30 minutes", Some(1800)),
            ("1 day", Some(86400)),
            ("1 month", Some(2592000)),
            ("1 year", Some(31557600)),
            ("10 sec", Some(10)),
            ("day", Some(86400)),
            ("", None),
            ("0", None),
            ("0 seconds", None),
            ("never", None),
            ("1 fortnight", None),
            ("abc", None),
        ] {
            assert_eq!(parse_duration(text), secs, "{text:?}");
        }
    }
}
