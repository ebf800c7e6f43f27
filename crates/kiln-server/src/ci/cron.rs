//! Pipeline schedule times: GitLab's five-field cron syntax in an IANA time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use kiln_store::Millis;

/// A parsed schedule.
pub(crate) struct Schedule {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// `None` when the cron line or the time zone is not valid.
    pub(crate) fn parse(cron: &str, timezone: &str) -> Result<Schedule, &'static str> {
        let tz: Tz = timezone.parse().map_err(|_| "cron_timezone")?;
        if cron.split_whitespace().count() != 5 {
            return Err("cron");
        }
        let cron = Cron::new(cron).parse().map_err(|_| "cron")?;
        Ok(Schedule { cron, tz })
    }

    /// The first run strictly after `after`.
    pub(crate) fn next_after(&self, after: Millis) -> Option<Millis> {
        let start = DateTime::<Utc>::from_timestamp_millis(after.0)?.with_timezone(&self.tz);
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(Millis(next.with_timezone(&Utc).timestamp_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        Millis(DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis())
    }

    #[test]
    fn next_runs_in_the_time_zone() {
        let s = Schedule::parse("0 4 * * *", "Europe/Berlin").unwrap();
        assert_eq!(s.next_after(at("2024-01-10T12:00:00Z")), Some(at("2024-01-11T03:00:00Z")));
        let s = Schedule::parse("*/15 * * * *", "UTC").unwrap();
        assert_eq!(s.next_after(at("2024-01-10T12:00:00Z")), Some(at("2024-01-10T12:15:00Z")));
        assert_eq!(Schedule::parse("nope", "UTC").err(), Some("cron"));
        assert_eq!(Schedule::parse("0 4 * * * *", "UTC").err(), Some("cron"));
        assert_eq!(Schedule::parse("0 4 * * *", "Mars/Olympus").err(), Some("cron_timezone"));
    }
}
