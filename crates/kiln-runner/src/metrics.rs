//! Prometheus metrics with GitLab Runner's names and labels, the `/metrics`,
//! `/debug/jobs/list` and `/health/ready` endpoints.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn api_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// A running job as `/debug/jobs/list` and `gitlab_runner_jobs` show it.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub id: i64,
    /// The job's page (`<project URL>/-/jobs/<id>`).
    pub url: String,
    /// The runner's short token, name and system id.
    pub runner: String,
    pub runner_name: String,
    pub system_id: String,
    pub stage: Arc<Mutex<String>>,
    pub started: Instant,
}

/// The web page of a job: the project URL from `repo_url` without credentials and
/// `.git`, then `/-/jobs/<id>` (gitlab-runner's `JobURL`).
pub fn job_url(repo_url: &str, id: i64) -> String {
    let (scheme, rest) = repo_url.split_once("://").unwrap_or(("", repo_url));
    let rest = match rest.split_once('@') {
        Some((userinfo, host)) if !userinfo.contains('/') => host,
        _ => rest,
    };
    let project = rest.trim_end_matches('/').trim_end_matches(".git");
    if scheme.is_empty() {
        format!("{project}/-/jobs/{id}")
    } else {
        format!("{scheme}://{project}/-/jobs/{id}")
    }
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    jobs: Family<Labels, Gauge>,
    jobs_total: Family<Labels, Counter>,
    failed_jobs_total: Family<Labels, Counter>,
    concurrent: Gauge,
    limit: Family<Labels, Gauge>,
    api_statuses: Family<Labels, Counter>,
    api_duration: HistogramFamily,
    api_retries: Family<Labels, Counter>,
    resident_memory: Gauge,
    cpu_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    open_fds: Gauge,
    running: Mutex<Vec<RunningJob>>,
    /// Every configured runner (short token, name, system id): each always has an
    /// `idle` row in `gitlab_runner_jobs`, as in gitlab-runner.
    runners: Mutex<Vec<(String, String, String)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let jobs = Family::<Labels, Gauge>::default();
        let jobs_total = Family::<Labels, Counter>::default();
        let failed_jobs_total = Family::<Labels, Counter>::default();
        let concurrent = Gauge::default();
        let limit = Family::<Labels, Gauge>::default();
        let api_statuses = Family::<Labels, Counter>::default();
        let api_duration: HistogramFamily = Family::new_with_constructor(api_histogram);
        let api_retries = Family::<Labels, Counter>::default();
        let resident_memory = Gauge::default();
        let cpu_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let open_fds = Gauge::default();
        let version = Family::<Labels, Gauge>::default();
        registry.register("gitlab_runner_jobs", "The current number of running builds", jobs.clone());
        registry.register("gitlab_runner_jobs", "Total number of handled jobs", jobs_total.clone());
        registry.register(
            "gitlab_runner_failed_jobs",
            "Total number of failed jobs",
            failed_jobs_total.clone(),
        );
        registry.register(
            "gitlab_runner_concurrent",
            "The current value of concurrent setting",
            concurrent.clone(),
        );
        registry.register("gitlab_runner_limit", "The current value of limit setting", limit.clone());
        registry.register(
            "gitlab_runner_api_request_statuses",
            "The total number of api requests, partitioned by runner, system_id, endpoint, status and method",
            api_statuses.clone(),
        );
        registry.register(
            "gitlab_runner_api_request_duration_seconds",
            "Latency histogram of API requests made by GitLab Runner",
            api_duration.clone(),
        );
        registry.register(
            "gitlab_runner_api_request_retries",
            "The total number of api request retries",
            api_retries.clone(),
        );
        registry.register(
            "gitlab_runner_version_info",
            "A metric with a constant '1' value labeled by different build stats fields",
            version.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            resident_memory.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            cpu_seconds.clone(),
        );
        registry.register("process_open_fds", "Number of open file descriptors", open_fds.clone());
        version
            .get_or_create(&l(&[
                ("name", crate::version::NAME),
                ("version", crate::version::VERSION),
                ("revision", crate::version::REVISION),
                ("os", crate::version::platform()),
                ("architecture", crate::version::architecture()),
            ]))
            .set(1);
        // The registry holds a clone of `jobs_total` under the counter name; keep ours too.
        Metrics {
            registry,
            jobs,
            jobs_total,
            failed_jobs_total,
            concurrent,
            limit,
            api_statuses,
            api_duration,
            api_retries,
            resident_memory,
            cpu_seconds,
            open_fds,
            running: Mutex::new(Vec::new()),
            runners: Mutex::new(Vec::new()),
        }
    }

    /// Records one API answer.
    pub fn api_request(
        &self,
        runner: &str,
        system_id: &str,
        endpoint: &str,
        status: u16,
        method: &str,
        took: Duration,
    ) {
        let status_s = status.to_string();
        let method = method.to_lowercase();
        self.api_statuses
            .get_or_create(&l(&[
                ("runner", runner),
                ("system_id", system_id),
                ("endpoint", endpoint),
                ("status", &status_s),
                ("method", &method),
            ]))
            .inc();
        let class = format!("{}xx", status / 100);
        self.api_duration
            .get_or_create(&l(&[
                ("runner", runner),
                ("system_id", system_id),
                ("endpoint", endpoint),
                ("status_class", &class),
                ("method", &method),
            ]))
            .observe(took.as_secs_f64());
    }

    /// Records one retry.
    pub fn api_retry(&self, endpoint: &str, method: &str) {
        self.api_retries.get_or_create(&l(&[("path", endpoint), ("method", &method.to_lowercase())])).inc();
    }

    /// Sets `concurrent` and each runner's `limit`.
    pub fn set_limits(&self, concurrent: usize, runners: &[(String, String, String, usize)]) {
        self.concurrent.set(i64::try_from(concurrent).unwrap_or(i64::MAX));
        self.limit.clear();
        if let Ok(mut known) = self.runners.lock() {
            *known = runners.iter().map(|(s, n, id, _)| (s.clone(), n.clone(), id.clone())).collect();
        }
        for (short, name, system_id, limit) in runners {
            self.limit
                .get_or_create(&l(&[("runner", short), ("runner_name", name), ("system_id", system_id)]))
                .set(i64::try_from(*limit).unwrap_or(0));
        }
    }

    /// A job started.
    pub fn job_started(&self, job: RunningJob) {
        self.jobs_total
            .get_or_create(&l(&[
                ("runner", &job.runner),
                ("runner_name", &job.runner_name),
                ("system_id", &job.system_id),
            ]))
            .inc();
        if let Ok(mut r) = self.running.lock() {
            r.push(job);
        }
    }

    /// A job ended.
    pub fn job_finished(&self, id: i64, short: &str, name: &str, failure_reason: Option<&str>) {
        if let Some(reason) = failure_reason {
            self.failed_jobs_total
                .get_or_create(&l(&[
                    ("runner", short),
                    ("runner_name", name),
                    ("failure_reason", reason),
                    ("mode", "script"),
                ]))
                .inc();
        }
        if let Ok(mut r) = self.running.lock() {
            r.retain(|j| j.id != id);
        }
    }

    /// Jobs running now.
    pub fn running_jobs(&self) -> Vec<RunningJob> {
        self.running.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The text exposition, with the job gauges and process figures refreshed.
    pub fn render(&self) -> String {
        self.jobs.clear();
        let known = self.runners.lock().map(|r| r.clone()).unwrap_or_default();
        for (short, name, system_id) in &known {
            let idle = [("state", "idle"), ("stage", "idle"), ("executor_stage", "idle")];
            self.jobs.get_or_create(&job_labels(short, name, system_id, idle)).set(0);
        }
        for j in self.running_jobs() {
            let stage = j.stage.lock().map(|s| s.clone()).unwrap_or_default();
            let running =
                [("state", "running"), ("stage", stage.as_str()), ("executor_stage", stage.as_str())];
            self.jobs.get_or_create(&job_labels(&j.runner, &j.runner_name, &j.system_id, running)).inc();
        }
        if let Some((rss, cpu)) = process_figures() {
            self.resident_memory.set(rss);
            self.cpu_seconds.set(cpu);
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(i64::try_from(dir.count()).unwrap_or(0));
        }
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        prometheus_text(&out)
    }

    /// `/debug/jobs/list`: one line per running job, in gitlab-runner's format.
    pub fn render_jobs(&self) -> String {
        let mut out = String::new();
        for j in self.running_jobs() {
            let stage = j.stage.lock().map(|s| s.clone()).unwrap_or_default();
            out.push_str(&format!(
                "url={} state=running stage={stage} executor_stage={stage} duration={}\n",
                j.url,
                go_duration_precise(j.started.elapsed()),
            ));
        }
        out
    }
}

/// Prometheus' text format (0.0.4, what gitlab-runner serves) from the OpenMetrics text
/// `prometheus-client` writes: a counter family is named with its `_total` suffix (else
/// `gitlab_runner_jobs` would be declared twice, as gauge and as counter) and there is no
/// `# EOF`.
fn prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<&str> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let suffix = if kind == "counter" { "_total" } else { "" };
            if let Some(h) = help.take() {
                let text = h.strip_prefix(name).unwrap_or(h);
                out.push_str(&format!("# HELP {name}{suffix}{text}\n"));
            }
            out.push_str(&format!("# TYPE {name}{suffix} {kind}\n"));
            continue;
        }
        if line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn job_labels(runner: &str, name: &str, system_id: &str, rest: [(&str, &str); 3]) -> Labels {
    let mut v = l(&[("runner", runner), ("runner_name", name), ("system_id", system_id)]);
    v.extend(rest.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

/// A duration as Go's `time.Duration.String` prints it (`1m2.5s`, `350ms`).
pub fn go_duration_precise(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        let ms = d.as_secs_f64() * 1000.0;
        return if ms >= 1.0 {
            format!("{}ms", trim_float(ms))
        } else {
            format!("{}µs", trim_float(ms * 1000.0))
        };
    }
    let frac = f64::from(d.subsec_nanos()) / 1e9;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let s = trim_float(s as f64 + frac);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Resident bytes and CPU seconds from `/proc/self/stat`.
pub fn process_figures() -> Option<(i64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = 100.0;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let rss_pages: i64 = fields.get(21)?.parse().ok()?;
    Some((rss_pages * 4096, (utime + stime) / ticks))
}

/// Serves `/metrics`, `/debug/jobs/list` and `/health/ready` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    use axum::routing::get;
    let m1 = metrics.clone();
    let m2 = metrics;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || async move {
                ([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], m1.render())
            }),
        )
        .route(
            "/debug/jobs/list",
            get(move || async move {
                ([("X-List-Version", "2"), ("Content-Type", "text/plain")], m2.render_jobs())
            }),
        )
        .route("/health/ready", get(|| async { "ok" }))
        .route("/health/live", get(|| async { "ok" }));
    axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await }).await
}
