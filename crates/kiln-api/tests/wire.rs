//! Wire compatibility: payloads as GitLab sends them parse, unknown values survive, and
//! what we send has GitLab Runner's field names.

use kiln_api::artifacts::ArtifactFormat;
use kiln_api::job::{CachePolicy, When};
use kiln_api::{FailureReason, FeaturesInfo, JobRequest, JobResponse, UpdateJobRequest, VersionInfo};

fn job() -> JobResponse {
    serde_json::from_str(include_str!("fixtures/job.json")).unwrap()
}

#[test]
fn a_gitlab_job_payload_parses() {
    let job = job();
    assert_eq!(job.id, 4242);
    assert_eq!(job.git_info.ref_name, "main");
    assert_eq!(job.git_info.depth, 20);
    assert_eq!(job.timeout_seconds(), 3600);
    assert!(job.variables[2].file);
    assert!(job.variables[3].raw);
    assert_eq!(job.variable("CI"), Some("true"));
    let image = job.image.as_ref().unwrap();
    let docker = image.executor_opts.as_ref().unwrap().docker.as_ref().unwrap();
    assert_eq!(docker.user.as_deref(), Some("1000"), "integer users become strings");
    let artifacts = job.artifacts.as_ref().unwrap();
    assert_eq!(artifacts[1].artifact_format, ArtifactFormat::Gzip);
    assert_eq!(artifacts[2].when, When::Unknown("sometimes".into()));
    assert_eq!(artifacts[2].artifact_format, ArtifactFormat::Unknown("zstd2".into()));
    assert_eq!(job.cache[0].policy, CachePolicy::Unknown(String::new()));
    assert!(job.cache[0].policy.pulls() && job.cache[0].policy.pushes());
    assert!(job.dependencies[0].artifacts_file.is_some());
    assert!(job.dependencies[1].artifacts_file.is_none());
}

#[test]
fn a_parsed_payload_round_trips() {
    let job = job();
    let text = serde_json::to_string(&job).unwrap();
    let again: JobResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(job, again);
}

#[test]
fn an_empty_payload_takes_defaults() {
    let job: JobResponse = serde_json::from_str("{}").unwrap();
    assert_eq!(job.timeout_seconds(), 7200);
    assert!(job.steps.is_empty());
}

#[test]
fn job_requests_send_every_feature_key() {
    let req = JobRequest {
        token: "t".into(),
        info: VersionInfo {
            features: FeaturesInfo { cancelable: true, ..Default::default() },
            ..Default::default()
        },
        ..Default::default()
    };
    let value = serde_json::to_value(&req).unwrap();
    let features = value["info"]["features"].as_object().unwrap();
    assert_eq!(features.len(), 31);
    assert_eq!(features["cancelable"], true);
    assert_eq!(features["two_phase_job_commit"], false);
    assert!(value.get("last_update").is_none(), "last_update is omitted until known");
}

#[test]
fn updates_omit_zero_exit_codes_and_absent_reasons() {
    let update = UpdateJobRequest { token: "t".into(), ..Default::default() };
    let value = serde_json::to_value(&update).unwrap();
    assert_eq!(value["state"], "running");
    assert!(value.get("exit_code").is_none());
    assert!(value.get("failure_reason").is_none());
    assert_eq!(value["output"]["bytesize"], 0);
}

#[test]
fn failure_reasons_map_as_gitlab_runner_maps_them() {
    let listed = vec!["runner_unsupported".to_string()];
    let cases = [
        (FailureReason::ScriptFailure, "script_failure"),
        (FailureReason::JobExecutionTimeout, "job_execution_timeout"),
        (FailureReason::RunnerSystemFailure, "runner_system_failure"),
        (FailureReason::ImagePullFailure, "runner_system_failure"),
        (FailureReason::RunnerExternalDependencyFailure, "runner_system_failure"),
        (FailureReason::RunnerConfigurationError, "script_failure"),
        (FailureReason::JobCanceled, "unknown_failure"),
        (FailureReason::RunnerInterrupted, "unknown_failure"),
        (FailureReason::RunnerUnsupported, "runner_unsupported"),
    ];
    for (reason, sent) in cases {
        assert_eq!(reason.for_coordinator(&listed).as_str(), sent, "{reason}");
    }
    let all = vec!["runner_interrupted".to_string()];
    assert_eq!(FailureReason::RunnerInterrupted.for_coordinator(&all).as_str(), "runner_interrupted");
}
