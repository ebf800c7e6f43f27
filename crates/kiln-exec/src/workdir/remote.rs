//! `include:remote` over HTTP(S), with GitLab's limits: a timeout and a
//! maximum size, and only `http` / `https` URLs.
//!
//! Errors are worded to follow "could not be fetched because", which the
//! processor puts in front of them as GitLab does ("... because of HTTP
//! code `404` error!").

use std::io::Read;
use std::time::Duration;

use kiln_config::sources::{Remote, SourceError};

/// GitLab gives remote includes 10 seconds (`Gitlab::Ci::Config::External::File::Remote`).
const TIMEOUT: Duration = Duration::from_secs(10);
/// No single included file may be larger than GitLab's YAML limit.
const MAX_BYTES: u64 = 2 * 1024 * 1024;

pub struct HttpRemote {
    client: reqwest::blocking::Client,
}

impl HttpRemote {
    pub fn new() -> Result<HttpRemote, reqwest::Error> {
        let client = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpRemote { client })
    }
}

impl Remote for HttpRemote {
    fn fetch(&self, url: &str) -> Result<String, SourceError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SourceError::new("it is not an http(s) address"));
        }
        let response = self.client.get(url).send().map_err(|e| {
            if e.is_timeout() {
                SourceError::new("of a timeout error")
            } else {
                let cause = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
                SourceError::new(format!("of an HTTP error ({cause})"))
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(SourceError::new(format!("of HTTP code `{}` error", status.as_u16())));
        }
        let mut body = Vec::new();
        response
            .take(MAX_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| SourceError::new(format!("the response could not be read ({e})")))?;
        if body.len() as u64 > MAX_BYTES {
            return Err(SourceError::new(format!("it is larger than {MAX_BYTES} bytes")));
        }
        String::from_utf8(body).map_err(|_| SourceError::new("it is not valid UTF-8"))
    }
}
