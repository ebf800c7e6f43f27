-- Variables reported by jobs (`artifacts:reports:dotenv`), handed to later jobs.
CREATE TABLE job_report_variables (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);

-- Compute quota per top-level namespace (minutes per month), and what was used.
CREATE TABLE namespace_quotas (
    namespace_id BIGINT PRIMARY KEY REFERENCES namespaces (id) ON DELETE CASCADE,
    minutes_per_month BIGINT NOT NULL
);
CREATE TABLE namespace_usage (
    namespace_id BIGINT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace_id, month)
);

-- GitLab's runner cost factor: minutes a job on this runner costs per minute it runs.
ALTER TABLE runners ADD COLUMN cost_factor DOUBLE PRECISION NOT NULL DEFAULT 1.0;
