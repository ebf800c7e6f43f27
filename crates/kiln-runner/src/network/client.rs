//! The runner API client: one method per endpoint, a retry layer for 408/429/5xx with
//! `Retry-After` / `RateLimit-ResetTime` and exponential back-off, and per-endpoint metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_api::headers;
use kiln_api::runners::{
    RegisterRunnerRequest, RegisterRunnerResponse, ResetTokenRequest, ResetTokenResponse,
    UnregisterManagerRequest, UnregisterRunnerRequest, VerifyRunnerRequest,
};
use kiln_api::{JobRequest, JobResponse, UpdateJobRequest};
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};

use crate::metrics::Metrics;

/// A request that could not be made or whose answer made no sense.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("request to {url} failed: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status} with a body that is not valid JSON: {message}")]
    Decode { url: String, status: u16, message: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("failed to build the HTTP client: {0}")]
    Client(String),
}

/// A raw answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// `X-GitLab-Trace-Update-Interval` in seconds.
    fn update_interval(&self) -> Option<Duration> {
        self.header(headers::TRACE_UPDATE_INTERVAL)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }
}

/// `POST /jobs/request` outcomes.
#[derive(Debug, Clone)]
pub enum JobRequestResult {
    Job(Box<JobResponse>),
    /// `204`; the new `X-GitLab-Last-Update`, if any.
    NoJob {
        last_update: Option<String>,
    },
    /// `409`: someone else got it; try again on the normal cadence.
    Conflict,
    /// `403`: the token is not valid (unhealthy).
    Forbidden,
    /// Anything else (after retries).
    Failed(u16),
}

/// `PUT /jobs/:id` outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateAnswer {
    pub status: u16,
    pub job_status: Option<String>,
    /// `X-GitLab-Trace-Update-Interval`.
    pub interval: Option<Duration>,
}

/// `PATCH /jobs/:id/trace` outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchAnswer {
    pub status: u16,
    pub job_status: Option<String>,
    pub interval: Option<Duration>,
    /// The stored size from `Range: 0-<size>`.
    pub range_size: Option<u64>,
}

/// `<base>/api/v4/<path>`.
pub fn api_url(base: &str, path: &str) -> String {
    format!("{}/api/v4/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

const MAX_ATTEMPTS: u32 = 5;

fn retriable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504) || status >= 512
}

/// The API client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    metrics: Option<Arc<Metrics>>,
    /// Identifies the runner in metrics labels (`runner`, `system_id`).
    labels: (String, String),
    backoff_base: Duration,
}

impl Client {
    /// A client (no overall timeout: job requests are long-polled).
    pub fn new() -> Result<Client, NetworkError> {
        let http = reqwest::Client::builder()
            .user_agent(crate::version::user_agent())
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| NetworkError::Client(e.to_string()))?;
        Ok(Client {
            http,
            metrics: None,
            labels: (String::new(), String::new()),
            backoff_base: Duration::from_millis(100),
        })
    }

    /// The same client, recording API metrics for a runner.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>, short_token: &str, system_id: &str) -> Client {
        self.metrics = Some(metrics);
        self.labels = (short_token.to_string(), system_id.to_string());
        self
    }

    /// The underlying HTTP client (artifact and cache transfers).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn wait_for(&self, answer: &Answer, attempt: u32) -> Duration {
        if let Some(reset) = answer.header(headers::RATE_LIMIT_RESET_TIME)
            && let Ok(at) = chrono::DateTime::parse_from_rfc2822(&reset)
        {
            let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
            return wait.to_std().unwrap_or_default().min(Duration::from_secs(60));
        }
        if let Some(secs) = answer.header("Retry-After").and_then(|v| v.trim().parse::<u64>().ok()) {
            return Duration::from_secs(secs).min(Duration::from_secs(60));
        }
        let exp = self.backoff_base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(Duration::from_secs(60));
        let jitter = rand::rng().random_range(0.0..0.5);
        capped.mul_f64(1.0 + jitter)
    }

    /// Sends with retries; `build` makes a fresh request for every attempt.
    pub async fn send(
        &self,
        endpoint: &'static str,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, NetworkError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let start = Instant::now();
            let request = build().header(headers::REQUEST_ID, hex::encode(rand::random::<[u8; 16]>()));
            let method = request
                .try_clone()
                .and_then(|r| r.build().ok())
                .map(|r| r.method().to_string())
                .unwrap_or_default();
            let response = request
                .send()
                .await
                .map_err(|source| NetworkError::Transport { url: url.to_string(), source })?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|source| NetworkError::Transport { url: url.to_string(), source })?;
            if let Some(m) = &self.metrics {
                m.api_request(&self.labels.0, &self.labels.1, endpoint, status, &method, start.elapsed());
            }
            let answer = Answer { status, headers, body };
            if retriable(status) && attempt < MAX_ATTEMPTS {
                if let Some(m) = &self.metrics {
                    m.api_retry(endpoint, &method);
                }
                tokio::time::sleep(self.wait_for(&answer, attempt)).await;
                continue;
            }
            return Ok(answer);
        }
    }

    fn json<T: serde::de::DeserializeOwned>(url: &str, a: &Answer) -> Result<T, NetworkError> {
        serde_json::from_slice(&a.body).map_err(|e| NetworkError::Decode {
            url: url.into(),
            status: a.status,
            message: e.to_string(),
        })
    }

    /// `POST /jobs/request`.
    pub async fn request_job(&self, base: &str, req: &JobRequest) -> Result<JobRequestResult, NetworkError> {
        let url = api_url(base, "jobs/request");
        let a = self
            .send("request_job", &url, || {
                self.http
                    .post(&url)
                    .header(headers::RUNNER_TOKEN, &req.token)
                    .header("Accept", "application/json")
                    .json(req)
            })
            .await?;
        Ok(match a.status {
            201 => JobRequestResult::Job(Box::new(Self::json(&url, &a)?)),
            204 => JobRequestResult::NoJob {
                last_update: a.header(headers::LAST_UPDATE).filter(|v| !v.is_empty()),
            },
            409 => JobRequestResult::Conflict,
            403 => JobRequestResult::Forbidden,
            other => JobRequestResult::Failed(other),
        })
    }

    /// `PUT /jobs/:id`.
    pub async fn update_job(
        &self,
        base: &str,
        id: i64,
        req: &UpdateJobRequest,
    ) -> Result<UpdateAnswer, NetworkError> {
        let url = api_url(base, &format!("jobs/{id}"));
        let a = self
            .send("update_job", &url, || self.http.put(&url).header(headers::JOB_TOKEN, &req.token).json(req))
            .await?;
        Ok(UpdateAnswer {
            status: a.status,
            job_status: a.header(headers::JOB_STATUS),
            interval: a.update_interval(),
        })
    }

    /// `PATCH /jobs/:id/trace`.
    pub async fn patch_trace(
        &self,
        base: &str,
        id: i64,
        token: &str,
        start: u64,
        body: Bytes,
        debug: bool,
    ) -> Result<PatchAnswer, NetworkError> {
        let url = api_url(base, &format!("jobs/{id}/trace"));
        let range = kiln_api::trace::content_range(start, body.len() as u64);
        let a = self
            .send("patch_trace", &url, || {
                self.http
                    .patch(&url)
                    .query(&[("debug_trace", if debug { "true" } else { "false" })])
                    .header(headers::JOB_TOKEN, token)
                    .header("Content-Type", "text/plain")
                    .header("Content-Range", &range)
                    .body(body.clone())
            })
            .await?;
        Ok(PatchAnswer {
            status: a.status,
            job_status: a.header(headers::JOB_STATUS),
            interval: a.update_interval(),
            range_size: a.header("Range").and_then(|v| kiln_api::trace::parse_range_size(&v)),
        })
    }

    async fn json_call<B: serde::Serialize>(
        &self,
        endpoint: &'static str,
        method: Method,
        base: &str,
        path: &str,
        body: &B,
    ) -> Result<Answer, NetworkError> {
        let url = api_url(base, path);
        self.send(endpoint, &url, || {
            self.http.request(method.clone(), &url).header("Accept", "application/json").json(body)
        })
        .await
    }

    /// `POST /runners` (legacy registration).
    pub async fn register(
        &self,
        base: &str,
        req: &RegisterRunnerRequest,
    ) -> Result<RegisterRunnerResponse, NetworkError> {
        let a = self.json_call("register", Method::POST, base, "runners", req).await?;
        if a.status != StatusCode::CREATED.as_u16() {
            return Err(NetworkError::Status { url: api_url(base, "runners"), status: a.status });
        }
        Self::json(&api_url(base, "runners"), &a)
    }

    /// `POST /runners/verify`: `Ok(Some(..))` for newer coordinators that answer JSON,
    /// `Ok(None)` for a plain `200`, `Err(Status 403)` for an invalid token.
    pub async fn verify(
        &self,
        base: &str,
        req: &VerifyRunnerRequest,
    ) -> Result<Option<RegisterRunnerResponse>, NetworkError> {
        let a = self.json_call("verify", Method::POST, base, "runners/verify", req).await?;
        if a.status != 200 {
            return Err(NetworkError::Status { url: api_url(base, "runners/verify"), status: a.status });
        }
        Ok(serde_json::from_slice(&a.body).ok())
    }

    /// `DELETE /runners`.
    pub async fn unregister(&self, base: &str, token: &str) -> Result<u16, NetworkError> {
        let req = UnregisterRunnerRequest { token: token.into() };
        Ok(self.json_call("unregister", Method::DELETE, base, "runners", &req).await?.status)
    }

    /// `DELETE /runners/managers`.
    pub async fn unregister_manager(
        &self,
        base: &str,
        token: &str,
        system_id: &str,
    ) -> Result<u16, NetworkError> {
        let req = UnregisterManagerRequest { token: token.into(), system_id: system_id.into() };
        Ok(self.json_call("unregister_manager", Method::DELETE, base, "runners/managers", &req).await?.status)
    }

    /// `POST /runners/reset_authentication_token`.
    pub async fn reset_token(&self, base: &str, token: &str) -> Result<ResetTokenResponse, NetworkError> {
        let req = ResetTokenRequest { token: token.into() };
        let path = "runners/reset_authentication_token";
        let a = self.json_call("reset_token", Method::POST, base, path, &req).await?;
        if a.status != 201 {
            return Err(NetworkError::Status { url: api_url(base, path), status: a.status });
        }
        Self::json(&api_url(base, path), &a)
    }
}
