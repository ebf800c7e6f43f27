//! `retry:` as a number or `max` / `when` / `exit_codes`.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retry {
    /// 0..=2.
    pub max: Option<u8>,
    /// Empty means `always`.
    pub when: Vec<RetryWhen>,
    pub exit_codes: Vec<i64>,
}

macro_rules! retry_whens {
    ($($variant:ident = $name:literal,)*) => {
        /// A failure reason for `retry:when`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum RetryWhen { $($variant,)* }

        impl RetryWhen {
            pub const ALL: &'static [RetryWhen] = &[$(RetryWhen::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(RetryWhen::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<RetryWhen> {
                match s { $($name => Some(RetryWhen::$variant),)* _ => None }
            }
        }
    };
}

retry_whens! {
    Always = "always",
    UnknownFailure = "unknown_failure",
    ScriptFailure = "script_failure",
    ApiFailure = "api_failure",
    StuckOrTimeoutFailure = "stuck_or_timeout_failure",
    StuckPendingWithMatchingRunners = "stuck_pending_with_matching_runners",
    StuckPendingNoMatchingRunners = "stuck_pending_no_matching_runners",
    NoUpdatesRunning = "no_updates_running",
    NoUpdatesCanceling = "no_updates_canceling",
    RunnerSystemFailure = "runner_system_failure",
    RunnerConfigurationError = "runner_configuration_error",
    RunnerExternalDependencyFailure = "runner_external_dependency_failure",
    RunnerInterrupted = "runner_interrupted",
    RunnerUnsupported = "runner_unsupported",
    StaleSchedule = "stale_schedule",
    JobExecutionTimeout = "job_execution_timeout",
    ServerTimeoutRunning = "server_timeout_running",
    ServerTimeoutCanceling = "server_timeout_canceling",
    ArchivedFailure = "archived_failure",
    UnmetPrerequisites = "unmet_prerequisites",
    SchedulerFailure = "scheduler_failure",
    DataIntegrityFailure = "data_integrity_failure",
}

use crate::model::cx::{Cx, sub};
use crate::yaml::{Node, Value};

/// `retry:` (`loc` = `jobs:name` or `default`).
pub(crate) fn parse_retry(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Retry> {
    let rloc = sub(loc, "retry");
    match &node.value {
        Value::Int(n) => Some(Retry { max: Some(max(cx, *n, node, &rloc, "config")?), ..Retry::default() }),
        Value::Map(map) => {
            cx.check_keys(map, &["max", "when", "exit_codes"], &rloc);
            let mut r = Retry::default();
            if let Some(m) = map.get("max") {
                match m.value {
                    Value::Int(n) => r.max = max(cx, n, m, &rloc, "max"),
                    _ => cx.err(m.span, &rloc, "max must be a number"),
                }
            }
            if let Some(w) = map.get("when") {
                let items: Option<Vec<&Node>> = match &w.value {
                    Value::Str(_) => Some(vec![w]),
                    Value::Seq(items) if items.iter().all(|i| i.as_str().is_some()) => {
                        Some(items.iter().collect())
                    }
                    _ => None,
                };
                match items {
                    None => cx.err(w.span, &rloc, "when should be an array of strings or a string"),
                    Some(items) => {
                        let mut unknown = Vec::new();
                        for i in items {
                            let s = i.as_str().unwrap_or_default();
                            match RetryWhen::parse(s) {
                                Some(k) => r.when.push(k),
                                None => unknown.push(s.to_string()),
                            }
                        }
                        if !unknown.is_empty() {
                            if w.as_str().is_some() {
                                cx.err(w.span, &rloc, "when is not included in the list");
                            } else {
                                cx.err(
                                    w.span,
                                    &rloc,
                                    &format!("when contains unknown values: {}", unknown.join(", ")),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(e) = map.get("exit_codes") {
                match crate::model::common::int_or_ints(e) {
                    Some(codes) => {
                        if cx.strict && e.as_int().is_none() {
                            let mut seen = codes.clone();
                            seen.sort_unstable();
                            seen.dedup();
                            if seen.len() != codes.len() {
                                cx.err(e.span, &rloc, "exit codes should contain unique items");
                            }
                        }
                        r.exit_codes = codes;
                    }
                    None => cx.err(e.span, &rloc, "exit codes should be an array of integers or an integer"),
                }
            }
            Some(r)
        }
        _ => {
            cx.err(node.span, &format!("{rloc} config"), "has to be either an integer or a hash");
            None
        }
    }
}

fn max(cx: &mut Cx<'_>, n: i64, node: &Node, loc: &str, what: &str) -> Option<u8> {
    if !(0..=2).contains(&n) {
        let bound = if n < 0 { "greater than or equal to 0" } else { "less than or equal to 2" };
        cx.err(node.span, loc, &format!("{what} must be {bound}"));
        return None;
    }
    Some(n as u8)
}
