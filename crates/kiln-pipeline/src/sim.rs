//! Several pipelines in memory: what the coordinator does around [`crate::handle`]
//! (applying effects, assigning resource groups across pipelines, starting and
//! canceling child pipelines, mirroring a child's status on its trigger job,
//! auto-canceling redundant pipelines), without a database. Tests and `kiln exec`
//! use it; the server does the same with rows and compare-and-set updates.

use std::collections::BTreeMap;

use crate::auto_cancel::{self, Existing, NewPipeline, PipelineSource};
use crate::effect::Effect;
use crate::engine::handle;
use crate::event::{CancelRequest, Event, Rejected, TickFacts};
use crate::limits::Limits;
use crate::resource_group::{self, ProcessMode};
use crate::state::{JobId, PipelineId, PipelineState, Timestamp};
use crate::status::Status;

/// Where a pipeline comes from and what it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineMeta {
    pub ref_name: String,
    pub sha: String,
    pub source: PipelineSource,
    pub created_at: Timestamp,
    /// For a downstream pipeline: the upstream pipeline and its trigger job's name.
    pub upstream: Option<(PipelineId, String)>,
}

/// One pipeline of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPipeline {
    pub state: PipelineState,
    pub meta: PipelineMeta,
    /// A declared downstream pipeline starts when its trigger job runs.
    pub started: bool,
}

/// One resource group: its mode and who holds the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimGroup {
    pub mode: ProcessMode,
    pub holder: Option<(PipelineId, JobId)>,
}

/// Something the world did besides changing statuses, for logs and test timelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    ResourceAssigned { group: String, pipeline: PipelineId, job: JobId },
    ResourceReleased { group: String, pipeline: PipelineId, job: JobId },
    DownstreamTriggered { pipeline: PipelineId, bridge: JobId, downstream: Option<PipelineId> },
    AutoCanceled { pipeline: PipelineId, by: PipelineId, interruptible_only: bool },
    Refused { pipeline: PipelineId, error: Rejected },
}

/// Several pipelines, resource groups and a clock, driven by events.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub now: Timestamp,
    pub pipelines: BTreeMap<PipelineId, SimPipeline>,
    pub groups: BTreeMap<String, SimGroup>,
    pub limits: Limits,
    /// When false, every pending job counts as having no runner.
    pub runners_offline: bool,
    /// The runners of running jobs stopped contacting the coordinator.
    pub runners_lost: bool,
    /// The project's "auto-cancel redundant pipelines" setting.
    pub auto_cancel_enabled: bool,
    pub notes: Vec<Note>,
}

impl World {
    /// An empty world at time zero, auto-cancel enabled (GitLab's default).
    pub fn new() -> World {
        World { auto_cancel_enabled: true, ..World::default() }
    }

    /// Adds a pipeline without starting it.
    pub fn add(&mut self, state: PipelineState, meta: PipelineMeta) {
        self.pipelines.insert(state.id, SimPipeline { state, meta, started: false });
    }

    /// Starts a pipeline: older pipelines of its ref are auto-canceled, then it is processed.
    pub fn start(&mut self, id: PipelineId) -> Result<(), Rejected> {
        let Some(p) = self.pipelines.get_mut(&id) else { return Ok(()) };
        p.started = true;
        p.meta.created_at = self.now;
        self.auto_cancel_redundant(id);
        self.handle(id, Event::Process)
    }

    /// Handles one event for one pipeline and everything that follows from it.
    pub fn handle(&mut self, id: PipelineId, event: Event) -> Result<(), Rejected> {
        let Some(p) = self.pipelines.get(&id) else { return Ok(()) };
        let outcome = handle(&p.state, &event, self.now)?;
        if let Some(p) = self.pipelines.get_mut(&id) {
            p.state = outcome.state;
        }
        for effect in outcome.effects {
            self.route(id, effect);
        }
        Ok(())
    }

    /// Advances the clock and ticks every started pipeline.
    pub fn tick(&mut self, now: Timestamp) {
        self.now = now;
        let ids: Vec<PipelineId> =
            self.pipelines.iter().filter(|(_, p)| p.started).map(|(id, _)| *id).collect();
        for id in ids {
            let Some(p) = self.pipelines.get(&id) else { continue };
            let no_runner = if self.runners_offline {
                p.state.jobs.iter().filter(|j| j.status == Status::Pending).map(|j| j.id).collect()
            } else {
                Vec::new()
            };
            let runner_lost = if self.runners_lost {
                p.state.jobs.iter().filter(|j| j.status == Status::Running).map(|j| j.id).collect()
            } else {
                Vec::new()
            };
            let facts = TickFacts { limits: self.limits, no_runner, runner_lost };
            self.handle_noting(id, Event::Tick(facts));
        }
    }

    fn handle_noting(&mut self, id: PipelineId, event: Event) {
        if let Err(error) = self.handle(id, event) {
            self.notes.push(Note::Refused { pipeline: id, error });
        }
    }

    fn route(&mut self, id: PipelineId, effect: Effect) {
        match effect {
            Effect::RequestResource { group } => self.assign(&group),
            Effect::ReleaseResource { group, job } => {
                let g = self.groups.entry(group.clone()).or_default();
                if g.holder == Some((id, job)) {
                    g.holder = None;
                    self.notes.push(Note::ResourceReleased { group, pipeline: id, job });
                }
            }
            Effect::TriggerDownstream { bridge } => self.trigger(id, bridge),
            Effect::CancelChildPipelines { auto_canceled_by } => {
                for child in self.children(id) {
                    let request =
                        CancelRequest { interruptible_only: false, cascade: true, auto_canceled_by };
                    // A child with nothing left to cancel is fine.
                    let _ = self.handle(child, Event::CancelPipeline(request));
                }
            }
            Effect::SetPipelineStatus { to, .. } => self.mirror_upstream(id, to),
            _ => {}
        }
    }

    fn children(&self, id: PipelineId) -> Vec<PipelineId> {
        self.pipelines
            .iter()
            .filter(|(_, p)| p.started && p.meta.source == PipelineSource::ParentPipeline)
            .filter(|(_, p)| p.meta.upstream.as_ref().is_some_and(|(up, _)| *up == id))
            .map(|(cid, _)| *cid)
            .collect()
    }

    fn assign(&mut self, group: &str) {
        let g = self.groups.entry(group.to_string()).or_default();
        let (mode, free) = (g.mode, g.holder.is_none());
        let candidates: Vec<_> = self
            .pipelines
            .values()
            .filter(|p| p.started)
            .flat_map(|p| resource_group::candidates(&p.state, group))
            .collect();
        let Some(next) = resource_group::next_to_assign(mode, free, &candidates) else { return };
        if let Some(g) = self.groups.get_mut(group) {
            g.holder = Some((next.pipeline, next.job));
        }
        self.notes.push(Note::ResourceAssigned {
            group: group.to_string(),
            pipeline: next.pipeline,
            job: next.job,
        });
        self.handle_noting(next.pipeline, Event::ResourceGranted { job: next.job });
    }

    fn trigger(&mut self, id: PipelineId, bridge: JobId) {
        let name = self
            .pipelines
            .get(&id)
            .and_then(|p| p.state.job(bridge).map(|j| p.state.name_of(j).to_string()))
            .unwrap_or_default();
        let downstream = self
            .pipelines
            .iter()
            .find(|(_, p)| {
                !p.started && p.meta.upstream.as_ref().is_some_and(|(up, b)| *up == id && *b == name)
            })
            .map(|(did, _)| *did);
        self.notes.push(Note::DownstreamTriggered { pipeline: id, bridge, downstream });
        if let Some(downstream) = downstream {
            self.handle_noting(id, Event::DownstreamCreated { bridge });
            let _ = self.start(downstream);
        }
    }

    fn mirror_upstream(&mut self, id: PipelineId, status: Status) {
        let Some((up, name)) = self.pipelines.get(&id).and_then(|p| p.meta.upstream.clone()) else { return };
        let bridge = self.pipelines.get(&up).and_then(|p| p.state.current_job_named(&name)).map(|j| j.id);
        if let Some(bridge) = bridge {
            self.handle_noting(up, Event::DownstreamStatus { bridge, status });
        }
    }

    fn auto_cancel_redundant(&mut self, id: PipelineId) {
        let Some(new) = self.pipelines.get(&id) else { return };
        let new_pipeline = NewPipeline {
            id,
            ref_name: &new.meta.ref_name,
            sha: &new.meta.sha,
            created_at: new.meta.created_at,
            is_child: new.meta.source == PipelineSource::ParentPipeline,
        };
        let existing: Vec<Existing<'_>> = self
            .pipelines
            .values()
            .filter(|p| p.started && p.state.id != id)
            .map(|p| Existing {
                id: p.state.id,
                ref_name: &p.meta.ref_name,
                sha: &p.meta.sha,
                source: p.meta.source,
                created_at: p.meta.created_at,
                root_created_at: self.root_created_at(p),
                status: p.state.status,
                on_new_commit: p.state.settings.on_new_commit,
                started_non_interruptible_build: p.state.started_non_interruptible_build(),
            })
            .collect();
        let cancels = auto_cancel::redundant_pipelines(
            &new_pipeline,
            self.auto_cancel_enabled,
            None,
            &existing,
            self.now,
        );
        for c in cancels {
            self.notes.push(Note::AutoCanceled {
                pipeline: c.pipeline,
                by: id,
                interruptible_only: c.interruptible_only,
            });
            let request = CancelRequest {
                interruptible_only: c.interruptible_only,
                cascade: false,
                auto_canceled_by: Some(id),
            };
            // Nothing left to cancel (only manual jobs) is fine.
            let _ = self.handle(c.pipeline, Event::CancelPipeline(request));
        }
    }

    fn root_created_at(&self, p: &SimPipeline) -> Timestamp {
        let mut current = p;
        for _ in 0..32 {
            let Some((up, _)) = &current.meta.upstream else { break };
            match self.pipelines.get(up) {
                Some(parent) if current.meta.source == PipelineSource::ParentPipeline => current = parent,
                _ => break,
            }
        }
        current.meta.created_at
    }
}
