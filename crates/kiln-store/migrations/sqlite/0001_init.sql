-- Kiln coordinator schema. Times are integer milliseconds since the Unix epoch (UTC),
-- statuses and enum-like columns hold GitLab's names, secrets are SHA-256 hex digests.
-- The PostgreSQL migration of the same number is this file with the dialect's
-- identity and binary types; keep the two in step.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_digest TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL
);

CREATE TABLE personal_access_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX personal_access_tokens_user ON personal_access_tokens (user_id);

CREATE TABLE namespaces (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    full_path TEXT NOT NULL UNIQUE,
    parent_id BIGINT REFERENCES namespaces (id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    traversal TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL DEFAULT 'private',
    description TEXT NOT NULL DEFAULT '',
    shared_runners_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX namespaces_parent ON namespaces (parent_id);

CREATE TABLE group_members (
    namespace_id BIGINT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    namespace_id BIGINT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    full_path TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL DEFAULT 'private',
    default_branch TEXT NOT NULL DEFAULT 'main',
    ci_config_path TEXT NOT NULL DEFAULT '',
    build_timeout BIGINT NOT NULL DEFAULT 3600,
    ci_default_git_depth BIGINT NOT NULL DEFAULT 20,
    shared_runners_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    public_jobs BOOLEAN NOT NULL DEFAULT TRUE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    creator_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    pipeline_iid BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_namespace_path ON projects (namespace_id, path);

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

CREATE TABLE protected_refs (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    push_access_level BIGINT NOT NULL,
    merge_access_level BIGINT NOT NULL,
    allow_force_push BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    UNIQUE (project_id, kind, name)
);

CREATE TABLE variables (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    owner_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    variable_type TEXT NOT NULL DEFAULT 'env_var',
    protected BOOLEAN NOT NULL DEFAULT FALSE,
    masked BOOLEAN NOT NULL DEFAULT FALSE,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    raw BOOLEAN NOT NULL DEFAULT FALSE,
    environment_scope TEXT NOT NULL DEFAULT '*',
    description TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (scope, owner_id, key, environment_scope)
);

CREATE TABLE pipelines (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    iid BIGINT NOT NULL,
    sha TEXT NOT NULL,
    before_sha TEXT,
    ref TEXT NOT NULL,
    tag BOOLEAN NOT NULL DEFAULT FALSE,
    protected BOOLEAN NOT NULL DEFAULT FALSE,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    schedule_id BIGINT,
    trigger_id BIGINT,
    parent_pipeline_id BIGINT REFERENCES pipelines (id) ON DELETE SET NULL,
    parent_job_id BIGINT,
    settings TEXT NOT NULL,
    variables TEXT NOT NULL DEFAULT '[]',
    yaml_errors TEXT,
    failure_reason TEXT,
    auto_canceled_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    UNIQUE (project_id, iid)
);
-- Listing a project's pipelines newest first, filtered by ref and status.
CREATE INDEX pipelines_project_ref ON pipelines (project_id, ref, id);
CREATE INDEX pipelines_project_status ON pipelines (project_id, status, id);
CREATE INDEX pipelines_parent ON pipelines (parent_pipeline_id);

-- Pipelines whose state changed and must be processed again: append-only requests
-- (no row two writers fight over), cleared up to the newest one a processor saw. A
-- request survives a crash, so a restarted coordinator picks up where the dead one
-- stopped.
CREATE TABLE pipeline_processing (
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    requested_at BIGINT NOT NULL
);
CREATE INDEX pipeline_processing_pipeline ON pipeline_processing (pipeline_id, requested_at);

-- Follow-ups of applied effects that act outside the pipeline (downstream pipelines,
-- cancelling children, resource assignment), written in the effects' transaction so
-- a crash cannot lose them; the coordinator drains and deletes them.
CREATE TABLE pipeline_outbox (
    id INTEGER PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    effect TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE job_definitions (
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    definition TEXT NOT NULL,
    spec TEXT NOT NULL,
    stage TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (pipeline_id, idx)
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    definition_idx BIGINT NOT NULL,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stage TEXT NOT NULL,
    stage_idx BIGINT NOT NULL,
    bridge BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL,
    retried BOOLEAN NOT NULL DEFAULT FALSE,
    allow_failure BOOLEAN NOT NULL DEFAULT FALSE,
    failure_reason TEXT,
    exit_code INTEGER,
    enqueue_immediately BOOLEAN NOT NULL DEFAULT FALSE,
    variables TEXT NOT NULL DEFAULT '[]',
    holds_resource BOOLEAN NOT NULL DEFAULT FALSE,
    graceful_cancel BOOLEAN NOT NULL DEFAULT FALSE,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    runner_id BIGINT,
    runner_manager_id BIGINT,
    instance_runner BOOLEAN NOT NULL DEFAULT FALSE,
    token_digest TEXT UNIQUE,
    downstream_pipeline_id BIGINT,
    erased_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    queued_at BIGINT,
    started_at BIGINT,
    finished_at BIGINT,
    scheduled_at BIGINT,
    UNIQUE (pipeline_id, number)
);
-- Project job lists (newest first) and scope filters.
CREATE INDEX jobs_project ON jobs (project_id, id);
-- A runner's jobs (admin API, vanished-runner cleanup).
CREATE INDEX jobs_runner ON jobs (runner_id, id);
-- Server-side limits scan alive jobs by status and age.
CREATE INDEX jobs_status_updated ON jobs (status, updated_at);
-- Delayed jobs that are due.
CREATE INDEX jobs_scheduled ON jobs (scheduled_at) WHERE scheduled_at IS NOT NULL;

-- Resource groups: one holder at a time, compare-and-set on `holder_job_id`.
CREATE TABLE resource_groups (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    process_mode TEXT NOT NULL DEFAULT 'unordered',
    holder_job_id BIGINT,
    UNIQUE (project_id, key)
);

-- The job queue: one row per pending build job, with everything matching needs, so
-- a claim reads this table only. The claim that wins deletes the row in the same
-- transaction that moves the job to `running`.
CREATE TABLE pending_jobs (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    traversal TEXT NOT NULL,
    protected BOOLEAN NOT NULL,
    tags TEXT NOT NULL,
    tag_count BIGINT NOT NULL,
    instance_runners_enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
-- The primary key orders the queue oldest first (group and instance runners); this
-- one serves project runners, which look at their projects' jobs only.
CREATE INDEX pending_jobs_project ON pending_jobs (project_id, job_id);

-- Jobs running on instance runners (GitLab's `ci_running_builds`): fair scheduling
-- counts them per project. Rows are inserted by the claim and deleted when the job
-- stops executing, so concurrent claims never update a shared counter row.
CREATE TABLE running_instance_jobs (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL
);
CREATE INDEX running_instance_jobs_project ON running_instance_jobs (project_id);

CREATE TABLE runners (
    id INTEGER PRIMARY KEY,
    runner_type TEXT NOT NULL,
    group_id BIGINT REFERENCES namespaces (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    run_untagged BOOLEAN NOT NULL DEFAULT TRUE,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    access_level TEXT NOT NULL DEFAULT 'not_protected',
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    maximum_timeout BIGINT,
    token_digest TEXT NOT NULL UNIQUE,
    token_expires_at BIGINT,
    registration_type TEXT NOT NULL DEFAULT 'authenticated_user',
    creator_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    contacted_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE runner_projects (
    runner_id BIGINT NOT NULL REFERENCES runners (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (runner_id, project_id)
);
CREATE INDEX runner_projects_project ON runner_projects (project_id);

CREATE TABLE runner_managers (
    id INTEGER PRIMARY KEY,
    runner_id BIGINT NOT NULL REFERENCES runners (id) ON DELETE CASCADE,
    system_id TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    revision TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL DEFAULT '',
    architecture TEXT NOT NULL DEFAULT '',
    executor TEXT NOT NULL DEFAULT '',
    ip_address TEXT NOT NULL DEFAULT '',
    contacted_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (runner_id, system_id)
);

CREATE TABLE pipeline_schedules (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    ref TEXT NOT NULL,
    cron TEXT NOT NULL,
    cron_timezone TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    next_run_at BIGINT,
    last_pipeline_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The scheduler loop asks for active schedules that are due.
CREATE INDEX pipeline_schedules_due ON pipeline_schedules (next_run_at) WHERE active = TRUE;

CREATE TABLE schedule_variables (
    schedule_id BIGINT NOT NULL REFERENCES pipeline_schedules (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    variable_type TEXT NOT NULL DEFAULT 'env_var',
    PRIMARY KEY (schedule_id, key)
);

CREATE TABLE triggers (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    description TEXT NOT NULL DEFAULT '',
    token_digest TEXT NOT NULL UNIQUE,
    token_hint TEXT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX triggers_project ON triggers (project_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    author_id BIGINT,
    author_name TEXT NOT NULL DEFAULT '',
    entity_type TEXT NOT NULL,
    entity_id BIGINT NOT NULL,
    entity_path TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    ip_address TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, id);

-- A job's log: its length and running CRC-32, and the live chunks.
CREATE TABLE traces (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    size BIGINT NOT NULL DEFAULT 0,
    crc32 BIGINT NOT NULL DEFAULT 0,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);
CREATE TABLE trace_chunks (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk_index BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, chunk_index)
);

CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    file_type TEXT NOT NULL,
    file_format TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    expire_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (job_id, file_type)
);
-- The cleanup loop deletes expired artifacts.
CREATE INDEX artifacts_expire ON artifacts (expire_at) WHERE expire_at IS NOT NULL;
