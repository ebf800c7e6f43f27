//! Property tests: random pipelines (stages, needs, when, allow_failure, retry,
//! resource groups, trigger jobs) and random event sequences never panic, processing
//! is idempotent, jobs never start before their stage or needs allow, and a pipeline
//! whose work all finishes ends complete or blocked.

use kiln_pipeline::{
    BridgeTarget, CancelRequest, Effect, Event, FailureReason, JobDefinition, JobId, JobKind, Need, Outcome,
    PipelineId, PipelineSettings, PipelineState, Status, TickFacts, Timestamp, When, apply, handle, process,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct JobSpec {
    stage: u32,
    when: u8,
    allow_failure: bool,
    needs: Option<Vec<usize>>,
    retry: u32,
    grouped: bool,
    bridge: bool,
    interruptible: bool,
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        0u32..4,
        0u8..8,
        any::<bool>(),
        prop::option::of(prop::collection::vec(0usize..12, 0..3)),
        0u32..3,
        0u8..6,
        0u8..8,
        any::<bool>(),
    )
        .prop_map(|(stage, when, allow_failure, needs, retry, grouped, bridge, interruptible)| JobSpec {
            stage,
            when,
            allow_failure,
            needs,
            retry,
            grouped: grouped == 0,
            bridge: bridge == 0,
            interruptible,
        })
}

fn build(specs: &[JobSpec], on_job_failure: bool) -> PipelineState {
    let defs: Vec<JobDefinition> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut d = JobDefinition::new(format!("j{i}"), s.stage);
            d.when = match s.when {
                0 => When::OnFailure,
                1 => When::Always,
                2 => When::Manual,
                3 => When::Delayed,
                _ => When::OnSuccess,
            };
            if d.when == When::Delayed {
                d.start_in = Some(30);
            }
            d.allow_failure = s.allow_failure;
            // Needs only point at jobs of the same or an earlier stage, listed before.
            d.needs = s.needs.as_ref().map(|n| {
                n.iter()
                    .filter(|k| **k < i && specs[**k].stage <= s.stage)
                    .map(|k| Need { job: format!("j{k}"), optional: false, artifacts: true })
                    .collect()
            });
            d.retry.max = Some(s.retry);
            d.interruptible = s.interruptible;
            if s.grouped {
                d.resource_group = Some("g".into());
            }
            if s.bridge {
                d.kind = JobKind::Bridge { target: BridgeTarget::Project, depend: false };
            }
            d
        })
        .collect();
    let mut settings = PipelineSettings::default();
    if on_job_failure {
        settings.on_job_failure = kiln_pipeline::OnJobFailure::All;
    }
    PipelineState::new(PipelineId(1), settings, defs, Timestamp(0)).unwrap()
}

fn complete_or_ignored(state: &PipelineState, id: JobId) -> bool {
    state.job(id).is_some_and(|j| j.status.is_complete() || (j.status == Status::Manual && j.allow_failure))
}

/// Replays the effects, checking before each start that the job's stage or needs allowed it.
fn check_order(before: &PipelineState, outcome: &Outcome) -> Result<(), TestCaseError> {
    let mut state = before.clone();
    for effect in &outcome.effects {
        if let Effect::SetJobStatus(t) = effect {
            let started = matches!(
                t.to,
                Status::Pending | Status::WaitingForResource | Status::Manual | Status::Scheduled
            );
            if t.from == Status::Created && started {
                let job = state.job(t.job).unwrap();
                let def = state.definition_of(job).unwrap().clone();
                let current: Vec<JobId> = state.current_jobs().map(|j| j.id).collect();
                // GitLab's DAG rule: one skipped or ignored need makes the needs `skipped`
                // (complete) at once, which `when: always` accepts without waiting for the rest.
                let dag_skip = def.needs.as_ref().is_some_and(|needs| {
                    current.iter().filter_map(|id| state.job(*id)).any(|o| {
                        needs.iter().any(|n| n.job == state.name_of(o))
                            && (o.status == Status::Skipped
                                || (o.status == Status::Manual && o.allow_failure))
                    })
                });
                for other in current {
                    let o = state.job(other).unwrap();
                    let odef = state.definition_of(o).unwrap();
                    let waits = match &def.needs {
                        Some(needs) => needs.iter().any(|n| n.job == odef.name),
                        None => odef.stage_index < def.stage_index,
                    };
                    // A manual job that may fail is ignored: for a DAG job it counts as skipped
                    // (complete), which `when: always` accepts.
                    if waits && !dag_skip {
                        let ok = complete_or_ignored(&state, other);
                        prop_assert!(ok, "{} started while {} was {}", def.name, odef.name, o.status);
                    }
                }
            }
        }
        apply(&mut state, effect).unwrap();
    }
    prop_assert_eq!(&state, &outcome.state);
    Ok(())
}

/// Handles an event, checks the invariants, and grants the resource group if it is free.
fn step(state: &mut PipelineState, event: &Event, now: Timestamp) -> Result<(), TestCaseError> {
    let Ok(outcome) = handle(state, event, now) else { return Ok(()) };
    check_order(state, &outcome)?;
    let again = process(&outcome.state, now).unwrap();
    prop_assert!(again.effects.is_empty(), "processing twice changed {:?}", again.effects);
    *state = outcome.state;
    let held = state.jobs.iter().any(|j| j.holds_resource);
    let waiting = state.jobs.iter().find(|j| j.status == Status::WaitingForResource).map(|j| j.id);
    if let (false, Some(job)) = (held, waiting) {
        step(state, &Event::ResourceGranted { job }, now)?;
    }
    Ok(())
}

fn random_event(state: &PipelineState, kind: u8, pick: usize, now: Timestamp) -> Event {
    let n = state.jobs.len().max(1);
    let job = JobId(u32::try_from(pick % n).unwrap());
    match kind % 16 {
        0 | 1 => Event::JobRunning { job, graceful_cancel: pick.is_multiple_of(2) },
        2 | 3 => Event::JobSucceeded { job },
        4 => Event::JobFailed { job, reason: FailureReason::ScriptFailure, exit_code: Some(1) },
        5 => Event::JobFailed { job, reason: FailureReason::RunnerSystemFailure, exit_code: None },
        6 => Event::CancelJob { job },
        7 => Event::RetryJob { job, variables: vec![], runnable: !pick.is_multiple_of(5) },
        8 => Event::PlayJob { job, variables: vec![] },
        9 => Event::UnscheduleJob { job },
        10 => Event::Tick(TickFacts { no_runner: vec![job], runner_lost: vec![job], ..TickFacts::default() }),
        11 => Event::CancelPipeline(CancelRequest {
            interruptible_only: pick.is_multiple_of(2),
            cascade: true,
            auto_canceled_by: None,
        }),
        12 => Event::RetryPipeline,
        13 => Event::DownstreamCreated { bridge: job },
        14 => Event::ForceCancelJob { job },
        _ => Event::JobUpdated {
            job: JobId(u32::try_from(pick).unwrap_or(0).wrapping_add(u32::from(now.0 as u8))),
        },
    }
}

/// Runs every pending job to an end until nothing is waiting for a runner or a time.
fn finish(state: &mut PipelineState, mut now: Timestamp, fail_every: usize) -> Result<(), TestCaseError> {
    for round in 0usize..400 {
        now = Timestamp(now.0 + 10);
        let busy = |s: Status| matches!(s, Status::Pending | Status::Running | Status::Canceling);
        if let Some(job) = state.jobs.iter().find(|j| busy(j.status)) {
            let (id, status) = (job.id, job.status);
            let bridge = state.definition_of(job).is_some_and(|d| d.is_bridge());
            let event = match (status, bridge) {
                (Status::Running, true) => Event::DownstreamCreated { bridge: id },
                (Status::Pending, false) => Event::JobRunning { job: id, graceful_cancel: true },
                (_, _) if fail_every > 0 && round.is_multiple_of(fail_every) => {
                    Event::JobFailed { job: id, reason: FailureReason::ScriptFailure, exit_code: Some(2) }
                }
                _ => Event::JobSucceeded { job: id },
            };
            step(state, &event, now)?;
        } else if state.jobs.iter().any(|j| j.status == Status::Scheduled) {
            step(state, &Event::Tick(TickFacts::default()), Timestamp(now.0 + 1000))?;
        } else {
            break;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn random_events_keep_every_invariant(
        specs in prop::collection::vec(job_spec(), 1..12),
        on_job_failure in any::<bool>(),
        events in prop::collection::vec((any::<u8>(), any::<usize>()), 0..40),
        fail_every in 0usize..5,
    ) {
        let mut state = build(&specs, on_job_failure);
        let mut now = Timestamp(0);
        step(&mut state, &Event::Process, now)?;
        for (kind, pick) in events {
            now = Timestamp(now.0 + 7);
            let event = random_event(&state, kind, pick, now);
            step(&mut state, &event, now)?;
        }
        finish(&mut state, now, fail_every)?;
        let done = [Status::Success, Status::Failed, Status::Canceled, Status::Skipped, Status::Manual];
        prop_assert!(done.contains(&state.status), "pipeline ended {} with jobs {:?}",
            state.status, state.jobs.iter().map(|j| (state.name_of(j).to_string(), j.status)).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_states_are_refused_not_panicked_on(
        specs in prop::collection::vec(job_spec(), 1..6),
        bad_definition in 0u32..20,
        kind in any::<u8>(),
        pick in any::<usize>(),
    ) {
        let mut state = build(&specs, false);
        if let Some(job) = state.jobs.last_mut() {
            job.definition = kiln_pipeline::DefinitionId(bad_definition);
        }
        let event = random_event(&state, kind, pick, Timestamp(5));
        let valid = state.validate().is_ok();
        let result = handle(&state, &event, Timestamp(5));
        if !valid {
            prop_assert!(result.is_err());
        }
    }
}
