//! Which jobs of the planned pipeline run: all of them, or the ones named on
//! the command line (with what they need, or only what they need; a job
//! without `needs:` needs every job of the earlier stages). A job
//! that is left out does not exist in the local pipeline, so needs on it are
//! dropped, as `needs:optional` drops a need on a job rules left out.

use std::collections::{BTreeSet, VecDeque};

use kiln_config::plan::PipelinePlan;
use kiln_config::plan::spec::JobSpec;

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Job names; empty runs the whole pipeline.
    pub jobs: Vec<String>,
    /// Also run what the named jobs need, transitively.
    pub needs: bool,
    /// Run only what the named jobs need, not the jobs themselves.
    pub only_needs: bool,
}

/// A selection that names a job the pipeline does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no job named `{name}` in the pipeline (after rules){hint}")]
pub struct UnknownJob {
    pub name: String,
    hint: String,
}

/// The jobs to run, in plan order, with needs on jobs left out removed.
pub fn select(plan: &PipelinePlan, selection: &Selection) -> Result<Vec<JobSpec>, UnknownJob> {
    if selection.jobs.is_empty() {
        return Ok(plan.jobs.clone());
    }
    let find = |name: &str| plan.jobs.iter().find(|j| j.name == name);
    let mut named = BTreeSet::new();
    for name in &selection.jobs {
        // `build` also names the instances `build 1/2`, `build: [x]` of a parallel job.
        let matches: Vec<&JobSpec> = plan
            .jobs
            .iter()
            .filter(|j| j.name == *name || kiln_payload::predefined::group_name(&j.name) == *name)
            .collect();
        if matches.is_empty() {
            let close = plan.jobs.iter().map(|j| j.name.as_str()).find(|j| j.eq_ignore_ascii_case(name));
            return Err(UnknownJob {
                name: name.clone(),
                hint: close.map(|c| format!("; did you mean `{c}`?")).unwrap_or_default(),
            });
        }
        named.extend(matches.into_iter().map(|j| j.name.clone()));
    }
    let mut chosen: BTreeSet<String> =
        if selection.only_needs { BTreeSet::new() } else { named.iter().cloned().collect() };
    if selection.needs || selection.only_needs {
        let mut queue: VecDeque<String> = named.iter().cloned().collect();
        let mut seen = named.clone();
        while let Some(name) = queue.pop_front() {
            let Some(job) = find(&name) else { continue };
            // Without `needs:` a job waits for every job of the earlier stages.
            let wanted: Vec<String> = match &job.needs {
                Some(needs) => needs.iter().map(|n| n.job.clone()).collect(),
                None => plan
                    .jobs
                    .iter()
                    .filter(|j| j.stage_index < job.stage_index)
                    .map(|j| j.name.clone())
                    .collect(),
            };
            for need in wanted {
                if seen.insert(need.clone()) {
                    chosen.insert(need.clone());
                    queue.push_back(need);
                }
            }
        }
    }
    Ok(plan
        .jobs
        .iter()
        .filter(|j| chosen.contains(&j.name))
        .map(|j| {
            let mut j = j.clone();
            if let Some(needs) = j.needs.as_mut() {
                needs.retain(|n| chosen.contains(&n.job));
            }
            j
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use kiln_config::plan::spec::NeedSpec;

    use super::*;

    fn job(name: &str, stage: usize, needs: Option<&[&str]>) -> JobSpec {
        let mut j: JobSpec = serde_json::from_value(serde_json::json!({
            "name": name, "stage": "s", "stage_index": stage, "when": "on_success", "allow_failure": false,
        }))
        .unwrap();
        j.needs = needs.map(|n| {
            n.iter().map(|n| NeedSpec { job: (*n).into(), artifacts: true, optional: false }).collect()
        });
        j
    }

    fn plan() -> PipelinePlan {
        serde_json::from_value(serde_json::json!({
            "name": null, "stages": ["build", "test", "deploy"], "variables": [],
            "auto_cancel": { "on_new_commit": "conservative", "on_job_failure": "none" },
            "jobs": [
                serde_json::to_value(job("a", 0, None)).unwrap(),
                serde_json::to_value(job("b", 1, Some(&["a"]))).unwrap(),
                serde_json::to_value(job("c", 2, Some(&["b"]))).unwrap(),
                serde_json::to_value(job("t 1/2", 1, None)).unwrap(),
                serde_json::to_value(job("t 2/2", 1, None)).unwrap(),
            ],
        }))
        .unwrap()
    }

    fn names(jobs: &[JobSpec]) -> Vec<&str> {
        jobs.iter().map(|j| j.name.as_str()).collect()
    }

    #[test]
    fn named_jobs_alone_lose_their_needs() {
        let s = Selection { jobs: vec!["c".into()], ..Selection::default() };
        let jobs = select(&plan(), &s).unwrap();
        assert_eq!(names(&jobs), ["c"]);
        assert_eq!(jobs[0].needs.as_deref().map(<[_]>::len), Some(0));
    }

    #[test]
    fn needs_are_followed_transitively() {
        let s = Selection { jobs: vec!["c".into()], needs: true, ..Selection::default() };
        assert_eq!(names(&select(&plan(), &s).unwrap()), ["a", "b", "c"]);
        let s = Selection { jobs: vec!["c".into()], only_needs: true, ..Selection::default() };
        assert_eq!(names(&select(&plan(), &s).unwrap()), ["a", "b"]);
    }

    #[test]
    fn a_job_without_needs_needs_the_earlier_stages() {
        let s = Selection { jobs: vec!["t 1/2".into()], needs: true, ..Selection::default() };
        assert_eq!(names(&select(&plan(), &s).unwrap()), ["a", "t 1/2"]);
    }

    #[test]
    fn a_parallel_job_is_named_by_its_group() {
        let s = Selection { jobs: vec!["t".into()], ..Selection::default() };
        assert_eq!(names(&select(&plan(), &s).unwrap()), ["t 1/2", "t 2/2"]);
        let s = Selection { jobs: vec!["C".into()], ..Selection::default() };
        assert_eq!(
            select(&plan(), &s).unwrap_err().to_string(),
            "no job named `C` in the pipeline (after rules); did you mean `c`?"
        );
    }
}
