//! Model keywords → the plain specs of [`crate::plan::spec`].

use crate::model::{
    AllowFailure, Artifacts, Cache, CacheKey, Environment, Image, Release, Retry, Script, Service, Trigger,
    TriggerInclude, TriggerStrategy, TriggerTarget,
};
use crate::plan::spec::{
    ArtifactsSpec, CacheKeySpec, CacheSpec, ChildIncludeSpec, EnvironmentSpec, ImageSpec, ReleaseSpec,
    ReportSpec, RetrySpec, ServiceSpec, TriggerSpec, VariableSpec,
};
use crate::plan::vars;

pub(crate) fn lines(script: Option<&Script>) -> Vec<String> {
    script.map(|s| s.lines.iter().map(|l| l.value.clone()).collect()).unwrap_or_default()
}

pub(crate) fn image(image: &Image) -> ImageSpec {
    ImageSpec {
        name: image.name.value.clone(),
        entrypoint: image.entrypoint.clone(),
        pull_policy: image.pull_policy.iter().map(|p| p.as_str().to_string()).collect(),
        docker_platform: image.docker.as_ref().and_then(|d| d.platform.clone()),
        docker_user: image.docker.as_ref().and_then(|d| d.user.clone()),
        kubernetes_user: image.kubernetes.as_ref().and_then(|k| k.user.clone()),
    }
}

pub(crate) fn service(service: &Service) -> ServiceSpec {
    ServiceSpec {
        image: image(&service.image),
        alias: service.alias.clone(),
        command: service.command.clone(),
        variables: vars::specs(&service.variables),
    }
}

pub(crate) fn artifacts(a: &Artifacts) -> ArtifactsSpec {
    ArtifactsSpec {
        name: a.name.clone(),
        paths: a.paths.iter().map(|p| p.value.clone()).collect(),
        exclude: a.exclude.iter().map(|p| p.value.clone()).collect(),
        untracked: a.untracked.unwrap_or(false),
        when: a.when.map_or("on_success", |w| w.as_str()).to_string(),
        expire_in: a.expire_in.as_ref().map(|d| d.text.clone()),
        expose_as: a.expose_as.clone(),
        access: a.access.map(|x| x.as_str().to_string()),
        reports: a
            .reports
            .iter()
            .map(|r| ReportSpec {
                kind: r.kind.as_str().to_string(),
                paths: r.paths.iter().map(|p| p.value.clone()).collect(),
                coverage_format: r.coverage_format.clone(),
            })
            .collect(),
    }
}

pub(crate) fn cache(c: &Cache) -> CacheSpec {
    let key = match &c.key {
        None => CacheKeySpec::Literal { key: "default".into() },
        Some(CacheKey::Literal(k)) => CacheKeySpec::Literal { key: k.value.clone() },
        Some(CacheKey::Files { files, prefix }) => CacheKeySpec::Files {
            files: files.iter().map(|f| f.value.clone()).collect(),
            prefix: prefix.clone(),
        },
        Some(CacheKey::FilesCommits { files, prefix }) => CacheKeySpec::FilesCommits {
            files: files.iter().map(|f| f.value.clone()).collect(),
            prefix: prefix.clone(),
        },
    };
    CacheSpec {
        key,
        paths: c.paths.iter().map(|p| p.value.clone()).collect(),
        untracked: c.untracked.unwrap_or(false),
        policy: c.policy.as_ref().map_or("pull-push", |p| p.as_str()).to_string(),
        when: c.when.map_or("on_success", |w| w.as_str()).to_string(),
        unprotect: c.unprotect.unwrap_or(false),
        fallback_keys: c.fallback_keys.clone(),
    }
}

pub(crate) fn retry(r: Option<&Retry>) -> RetrySpec {
    match r {
        None => RetrySpec::default(),
        Some(r) => RetrySpec {
            max: r.max.unwrap_or(0),
            when: r.when.iter().map(|w| w.as_str().to_string()).collect(),
            exit_codes: r.exit_codes.clone(),
        },
    }
}

/// `allow_failure` as a flag and the exit codes that count as allowed.
pub(crate) fn allow_failure(a: &AllowFailure) -> (bool, Vec<i64>) {
    match a {
        AllowFailure::Bool(b) => (*b, Vec::new()),
        AllowFailure::ExitCodes(codes) => (false, codes.clone()),
    }
}

pub(crate) fn environment(e: &Environment) -> EnvironmentSpec {
    EnvironmentSpec {
        name: e.name.value.clone(),
        url: e.url.clone(),
        on_stop: e.on_stop.as_ref().map(|s| s.value.clone()),
        action: e.action.map_or("start", |a| a.as_str()).to_string(),
        auto_stop_in: e.auto_stop_in.clone(),
        deployment_tier: e.deployment_tier.map(|t| t.as_str().to_string()),
        kubernetes_namespace: e.kubernetes.as_ref().and_then(|k| k.namespace.clone()),
    }
}

pub(crate) fn release(r: &Release) -> ReleaseSpec {
    ReleaseSpec {
        tag_name: r.tag_name.clone(),
        tag_message: r.tag_message.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        git_ref: r.ref_.clone(),
        milestones: r.milestones.clone(),
        released_at: r.released_at.clone(),
    }
}

pub(crate) fn trigger(t: &Trigger) -> TriggerSpec {
    let strategy = t.strategy.map(|s| {
        match s {
            TriggerStrategy::Depend => "depend",
            TriggerStrategy::Mirror => "mirror",
        }
        .to_string()
    });
    let (forward_yaml_variables, forward_pipeline_variables) =
        (t.forward.yaml_variables, t.forward.pipeline_variables);
    match &t.target {
        TriggerTarget::Project { project, branch } => TriggerSpec::Project {
            project: project.value.clone(),
            branch: branch.as_ref().map(|b| b.value.clone()),
            strategy,
            forward_yaml_variables,
            forward_pipeline_variables,
        },
        TriggerTarget::Child(includes) => TriggerSpec::Child {
            include: includes.iter().map(child_include).collect(),
            strategy,
            forward_yaml_variables,
            forward_pipeline_variables,
        },
    }
}

fn child_include(i: &TriggerInclude) -> ChildIncludeSpec {
    match i {
        TriggerInclude::Local(p) => ChildIncludeSpec::Local { path: p.value.clone() },
        TriggerInclude::Template(t) => ChildIncludeSpec::Template { name: t.value.clone() },
        TriggerInclude::Remote(u) => ChildIncludeSpec::Remote { url: u.value.clone() },
        TriggerInclude::Artifact { artifact, job } => {
            ChildIncludeSpec::Artifact { artifact: artifact.value.clone(), job: job.value.clone() }
        }
        TriggerInclude::Project { project, file, ref_ } => ChildIncludeSpec::Project {
            project: project.value.clone(),
            files: file.iter().map(|f| f.value.clone()).collect(),
            git_ref: ref_.as_ref().map(|r| r.value.clone()),
        },
        TriggerInclude::Component(c) => ChildIncludeSpec::Component { path: c.value.clone() },
    }
}

/// Variables of a rule or service as specs.
pub(crate) fn variable_specs(v: &crate::model::Variables) -> Vec<VariableSpec> {
    vars::specs(v)
}
