//! Variables, schedules, triggers, audit events, groups and instance settings, on
//! both databases.

mod common;

use common::*;
use kiln_store::audit::{AuditAction, AuditEntity, AuditFilter, NewAuditEvent};
use kiln_store::namespaces::{AccessLevel, NewGroup, Visibility};
use kiln_store::pipelines::PipelineVariable;
use kiln_store::schedules::{NewSchedule, ScheduleUpdate};
use kiln_store::variables::{NewVariable, VariableOwner, VariableType, VariableUpdate};
use kiln_store::{Backend, Error, Millis, Page};

on_both_backends!(
    variables_follow_gitlab_rules,
    schedules_run_once_per_due_time,
    trigger_tokens_are_hashed,
    audit_events_are_listed_newest_first,
    group_access_is_inherited,
    instance_settings_have_defaults,
    report_variables_and_compute_quota,
);

async fn variables_follow_gitlab_rules(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let group = s.namespace_by_path("grp").await.unwrap();
    let var =
        |key: &str, value: &str| NewVariable { key: key.into(), value: value.into(), ..Default::default() };
    s.create_variable(VariableOwner::Instance, &var("LEVEL", "instance")).await.unwrap();
    s.create_variable(VariableOwner::Group(group.id), &var("LEVEL", "group")).await.unwrap();
    let created = s.create_variable(VariableOwner::Project(p.id), &var("LEVEL", "project")).await.unwrap();
    assert_eq!(created.environment_scope, "*");
    // Same key in another environment scope is fine; in the same scope it conflicts.
    let staging = NewVariable { environment_scope: "staging".into(), ..var("LEVEL", "staging") };
    s.create_variable(VariableOwner::Project(p.id), &staging).await.unwrap();
    assert!(matches!(
        s.create_variable(VariableOwner::Project(p.id), &var("LEVEL", "again")).await,
        Err(Error::Conflict(_))
    ));
    // Looking up an ambiguous key needs the scope filter, as in GitLab.
    assert!(matches!(s.variable(VariableOwner::Project(p.id), "LEVEL", None).await, Err(Error::Conflict(_))));
    assert_eq!(
        s.variable(VariableOwner::Project(p.id), "LEVEL", Some("staging")).await.unwrap().value,
        "staging"
    );
    // Masked values must be maskable; keys must be valid.
    let masked = |value: &str| NewVariable { masked: true, ..var("SECRET", value) };
    for bad in ["short", "has spaces in it", "line\nbreak1234"] {
        let err = s.create_variable(VariableOwner::Project(p.id), &masked(bad)).await;
        assert!(matches!(err, Err(Error::Invalid(_))), "{bad}: {err:?}");
    }
    s.create_variable(VariableOwner::Project(p.id), &masked("s3cr3t-t0ken")).await.unwrap();
    assert!(s.create_variable(VariableOwner::Project(p.id), &var("bad-key", "x")).await.is_err());
    let updated = s
        .update_variable(
            VariableOwner::Project(p.id),
            "SECRET",
            None,
            &VariableUpdate {
                variable_type: Some(VariableType::File),
                protected: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.variable_type, VariableType::File);
    assert!(updated.protected && updated.masked);
    let unmaskable = VariableUpdate { value: Some("no".into()), ..Default::default() };
    assert!(s.update_variable(VariableOwner::Project(p.id), "SECRET", None, &unmaskable).await.is_err());
    // What a pipeline sees, lowest precedence first.
    let all = s.variables_for_project(p.id).await.unwrap();
    let levels: Vec<_> = all.iter().filter(|v| v.key == "LEVEL").map(|v| v.value.as_str()).collect();
    assert_eq!(levels, ["instance", "group", "project", "staging"]);
    s.delete_variable(VariableOwner::Project(p.id), "SECRET", None).await.unwrap();
    assert_eq!(s.list_variables(VariableOwner::Project(p.id)).await.unwrap().len(), 2);
}

async fn schedules_run_once_per_due_time(backend: Backend) {
    let db = db(backend).await;
    let s = db.store.clone();
    let replica = db.reopen().await.unwrap();
    let owner = user(&s, "owner").await;
    let p = project(&s, &owner, "app").await;
    let first_run = Millis(1_700_000_000_000);
    let schedule = s
        .create_schedule(&NewSchedule {
            project: p.id,
            description: "nightly".into(),
            ref_name: "main".into(),
            cron: "0 1 * * *".into(),
            cron_timezone: "UTC".into(),
            active: true,
            owner: Some(owner.id),
            next_run_at: Some(first_run),
        })
        .await
        .unwrap();
    let var =
        PipelineVariable { key: "NIGHTLY".into(), value: "1".into(), variable_type: VariableType::EnvVar };
    s.set_schedule_variable(schedule.id, &var).await.unwrap();
    assert!(s.due_schedules(Millis(first_run.0 - 1), 10).await.unwrap().is_empty());
    let due = s.due_schedules(first_run, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].variables, vec![var]);
    // Two replicas and several loops race for the same run: exactly one wins.
    let next = Millis(first_run.0 + 86_400_000);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { s.clone() } else { replica.clone() };
        tasks.push(tokio::spawn(async move {
            store.advance_schedule(schedule.id, first_run, Some(next)).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    assert!(s.due_schedules(first_run, 10).await.unwrap().is_empty());
    let inactive = s
        .update_schedule(schedule.id, &ScheduleUpdate { active: Some(false), ..Default::default() })
        .await
        .unwrap();
    assert!(!inactive.active);
    assert!(
        s.due_schedules(Millis(next.0 + 1), 10).await.unwrap().is_empty(),
        "inactive schedules never run"
    );
    let other = user(&s, "other").await;
    assert_eq!(s.take_schedule_ownership(schedule.id, other.id).await.unwrap().owner_id, Some(other.id));
    assert_eq!(s.list_schedules(p.id, Some(false), Page::default()).await.unwrap().total, 1);
    assert_eq!(s.list_schedules(p.id, Some(true), Page::default()).await.unwrap().total, 0);
    s.delete_schedule(schedule.id).await.unwrap();
    assert!(matches!(s.schedule(schedule.id).await, Err(Error::NotFound(_))));
}

async fn trigger_tokens_are_hashed(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let now = Millis::now();
    let (trigger, token) = s.create_trigger(p.id, owner.id, "deploy", None).await.unwrap();
    assert!(token.starts_with("glptt-"));
    assert!(token.starts_with(&trigger.token_hint));
    assert_eq!(trigger.token_hint.len(), "glptt-".len() + 4);
    let found = s.trigger_by_token(&token, now).await.unwrap();
    assert_eq!(found.id, trigger.id);
    assert_eq!(s.trigger(trigger.id).await.unwrap().last_used_at, Some(now));
    assert!(s.trigger_by_token("glptt-unknown", now).await.is_err());
    let (_, expiring) = s.create_trigger(p.id, owner.id, "old", Some(now)).await.unwrap();
    assert!(s.trigger_by_token(&expiring, now).await.is_err());
    assert_eq!(s.update_trigger(trigger.id, "deploy prod").await.unwrap().description, "deploy prod");
    assert_eq!(s.list_triggers(p.id).await.unwrap().len(), 2);
    s.delete_trigger(trigger.id).await.unwrap();
    assert!(s.trigger_by_token(&token, now).await.is_err());
}

async fn audit_events_are_listed_newest_first(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let event = |action, entity_id| NewAuditEvent {
        author_id: Some(owner.id),
        author_name: owner.name.clone(),
        entity_type: AuditEntity::Pipeline,
        entity_id,
        entity_path: "grp/app".into(),
        action,
        details: serde_json::json!({ "source": "push" }),
        ip_address: Some("127.0.0.1".into()),
    };
    s.record_audit_event(&event(AuditAction::PipelineCreated, 1)).await.unwrap();
    s.record_audit_event(&event(AuditAction::PipelineCanceled, 1)).await.unwrap();
    s.record_audit_event(&event(AuditAction::PipelineCreated, 2)).await.unwrap();
    let all = s.list_audit_events(&AuditFilter::default(), Page::default()).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].entity_id, 2);
    assert_eq!(all.items[0].details["source"], "push");
    let one = s
        .list_audit_events(&AuditFilter { entity_id: Some(1), ..Default::default() }, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!((one.total, one.items[0].action), (2, AuditAction::PipelineCanceled));
}

async fn group_access_is_inherited(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let dev = user(s, "dev").await;
    let new_group = |path: &str, parent| NewGroup {
        name: path.into(),
        path: path.into(),
        parent,
        visibility: Visibility::Internal,
        description: String::new(),
    };
    let top = s.create_group(&new_group("top", None), owner.id).await.unwrap();
    let sub = s.create_group(&new_group("sub", Some(top.id)), owner.id).await.unwrap();
    assert_eq!(sub.full_path, "top/sub");
    s.set_group_member(top.id, dev.id, AccessLevel::Developer).await.unwrap();
    assert_eq!(s.group_access(sub.id, dev.id).await.unwrap(), Some(AccessLevel::Developer));
    s.set_group_member(sub.id, dev.id, AccessLevel::Maintainer).await.unwrap();
    assert_eq!(s.group_access(sub.id, dev.id).await.unwrap(), Some(AccessLevel::Maintainer));
    assert_eq!(s.group_access(top.id, dev.id).await.unwrap(), Some(AccessLevel::Developer));
    let lineage: Vec<_> = s.namespace_lineage(sub.id).await.unwrap().into_iter().map(|n| n.path).collect();
    assert_eq!(lineage, ["top", "sub"]);
    assert_eq!(s.list_groups(Some(dev.id), Page::default()).await.unwrap().total, 2);
    assert!(matches!(
        s.create_group(&new_group("sub", Some(top.id)), owner.id).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(s.create_group(&new_group("bad path", None), owner.id).await, Err(Error::Invalid(_))));
    s.remove_group_member(sub.id, dev.id).await.unwrap();
    assert_eq!(s.group_members(sub.id).await.unwrap().len(), 1);
    s.delete_group(top.id).await.unwrap();
    assert!(s.namespace(sub.id).await.is_err(), "subgroups go with their parent");
}

async fn instance_settings_have_defaults(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let settings = s.instance_settings().await.unwrap();
    assert!(settings.allow_runner_registration_token);
    assert_eq!(settings.max_trace_size_bytes, 100 * 1024 * 1024);
    let changed = s.update_instance_settings(|st| st.max_artifacts_size_mb = 5).await.unwrap();
    assert_eq!(changed.max_artifacts_size_mb, 5);
    assert_eq!(db.reopen().await.unwrap().instance_settings().await.unwrap(), changed);
}

async fn report_variables_and_compute_quota(backend: Backend) {
    let db = db(backend).await;
    let s = &db.store;
    let owner = user(s, "owner").await;
    let p = project(s, &owner, "app").await;
    let pl = started_pipeline(s, &p, &owner, vec![job("a", 0, &[]), job("b", 0, &[])]).await;
    let a = s.job_by_number(pl.id, kiln_pipeline::JobId(0)).await.unwrap().id;
    let b = s.job_by_number(pl.id, kiln_pipeline::JobId(1)).await.unwrap().id;
    let vars = |pairs: &[(&str, &str)]| {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
    };
    s.set_job_report_variables(a, &vars(&[("VERSION", "1.2"), ("BUILD", "7")])).await.unwrap();
    s.set_job_report_variables(b, &vars(&[("VERSION", "1.3")])).await.unwrap();
    assert!(s.set_job_report_variables(b, &vars(&[("bad-key", "x")])).await.is_err());
    let got = s.job_report_variables(&[a, b]).await.unwrap();
    let flat: Vec<_> = got.iter().map(|(j, k, v)| (*j, k.as_str(), v.as_str())).collect();
    assert_eq!(flat, [(a, "BUILD", "7"), (a, "VERSION", "1.2"), (b, "VERSION", "1.3")]);
    let ns = p.namespace_id;
    assert_eq!(s.namespace_quota(ns).await.unwrap(), None);
    s.set_namespace_quota(ns, Some(400)).await.unwrap();
    assert_eq!(s.namespace_quota(ns).await.unwrap(), Some(400));
    s.add_compute_usage(ns, "2026-11", 90.0).await.unwrap();
    s.add_compute_usage(ns, "2026-11", 30.5).await.unwrap();
    assert_eq!(s.compute_usage(ns, "2026-11").await.unwrap(), 120.5);
    assert_eq!(s.compute_usage(ns, "2026-12").await.unwrap(), 0.0);
    assert!(s.add_compute_usage(ns, "2026-11", f64::NAN).await.is_err());
    let (runner, _) = s.create_runner(&kiln_store::runners::NewRunner::instance()).await.unwrap();
    assert_eq!(runner.cost_factor, 1.0);
    let cheaper = kiln_store::runners::RunnerUpdate { cost_factor: Some(0.5), ..Default::default() };
    assert_eq!(s.update_runner(runner.id, &cheaper).await.unwrap().cost_factor, 0.5);
}
