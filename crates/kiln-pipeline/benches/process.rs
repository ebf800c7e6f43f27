//! Throughput of status-change processing: a 500-job pipeline (10 stages of 50
//! jobs, every other job with `needs` on a job of the previous stage) where each
//! job in turn is taken by a runner and succeeds, the pipeline being processed
//! after every change. Reported as jobs per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_pipeline::{
    Event, JobDefinition, JobId, Need, PipelineId, PipelineSettings, PipelineState, Status, Timestamp,
    handle, process,
};

const STAGES: u32 = 10;
const PER_STAGE: u32 = 50;

fn pipeline() -> PipelineState {
    let mut defs = Vec::new();
    for stage in 0..STAGES {
        for i in 0..PER_STAGE {
            let mut d = JobDefinition::new(format!("job-{stage}-{i}"), stage);
            if stage > 0 && i % 2 == 0 {
                d.needs = Some(vec![Need {
                    job: format!("job-{}-{i}", stage - 1),
                    optional: false,
                    artifacts: true,
                }]);
            }
            defs.push(d);
        }
    }
    PipelineState::new(PipelineId(1), PipelineSettings::default(), defs, Timestamp(0)).unwrap()
}

/// Runs the whole pipeline: every pending job runs and succeeds, one at a time.
fn run_all(start: &PipelineState) -> PipelineState {
    let now = Timestamp(1);
    let mut state = process(start, now).unwrap().state;
    while let Some(job) = state.jobs.iter().find(|j| j.status == Status::Pending).map(|j| j.id) {
        state = handle(&state, &Event::JobRunning { job, graceful_cancel: true }, now).unwrap().state;
        state = handle(&state, &Event::JobSucceeded { job }, now).unwrap().state;
    }
    state
}

fn bench(c: &mut Criterion) {
    let start = pipeline();
    let done = run_all(&start);
    assert_eq!(done.status, Status::Success);
    assert!(done.job(JobId(STAGES * PER_STAGE - 1)).is_some());
    let mut group = c.benchmark_group("process");
    group.throughput(Throughput::Elements(u64::from(STAGES * PER_STAGE)));
    group.sample_size(10);
    group.bench_function("500 jobs, run and succeed each in turn", |b| b.iter(|| run_all(&start)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
