//! GitLab's offset pagination: `page` / `per_page` parameters and the
//! `X-Total`, `X-Total-Pages`, `X-Per-Page`, `X-Page`, `X-Next-Page`,
//! `X-Prev-Page` and `Link` headers.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kiln_store::Page;
use serde::Serialize;

use crate::http::params::Params;

const DEFAULT_PER_PAGE: i64 = 20;
const MAX_PER_PAGE: i64 = 100;

/// The page a list request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pagination {
    pub(crate) page: i64,
    pub(crate) per_page: i64,
}

impl Pagination {
    /// Reads `page` and `per_page`; out-of-range values are clamped as GitLab does.
    pub(crate) fn from_params(params: &mut Params) -> Pagination {
        let page = params.integer("page").unwrap_or(1).max(1);
        let per_page = params.integer("per_page").unwrap_or(DEFAULT_PER_PAGE);
        let per_page = if per_page < 1 { DEFAULT_PER_PAGE } else { per_page.min(MAX_PER_PAGE) };
        Pagination { page, per_page }
    }

    pub(crate) fn store_page(self) -> Page {
        Page { offset: (self.page - 1).saturating_mul(self.per_page), limit: self.per_page }
    }
}

/// A JSON array with pagination headers. `base` is the external URL of the
/// server; the `Link` header repeats the request's query with `page` changed.
pub(crate) fn paginated<T: Serialize>(
    items: Vec<T>,
    total: i64,
    p: Pagination,
    base: &str,
    uri: &Uri,
) -> Response {
    let total_pages = ((total + p.per_page - 1) / p.per_page).max(1);
    let next = (p.page < total_pages).then_some(p.page + 1);
    let prev = (p.page > 1).then(|| (p.page - 1).min(total_pages));
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("x-total", total.to_string());
    set("x-total-pages", total_pages.to_string());
    set("x-per-page", p.per_page.to_string());
    set("x-page", p.page.to_string());
    set("x-next-page", next.map(|n| n.to_string()).unwrap_or_default());
    set("x-prev-page", prev.map(|n| n.to_string()).unwrap_or_default());
    let link = |page: i64, rel: &str| format!("<{}>; rel=\"{rel}\"", page_url(base, uri, page, p.per_page));
    let mut links = Vec::new();
    if let Some(prev) = prev {
        links.push(link(prev, "prev"));
    }
    if let Some(next) = next {
        links.push(link(next, "next"));
    }
    links.push(link(1, "first"));
    links.push(link(total_pages, "last"));
    set("link", links.join(", "));
    (StatusCode::OK, headers, Json(items)).into_response()
}

fn page_url(base: &str, uri: &Uri, page: i64, per_page: i64) -> String {
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "page" && k != "per_page" && k != "private_token" && k != "job_token")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    pairs.push(("page".into(), page.to_string()));
    pairs.push(("per_page".into(), per_page.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{base}{}?{query}", uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_for_a_middle_page() {
        let uri: Uri = "/api/v4/projects/1/pipelines?ref=main&page=2&private_token=secret".parse().unwrap();
        let response = paginated(vec![1, 2], 45, Pagination { page: 2, per_page: 20 }, "http://k", &uri);
        let h = response.headers();
        assert_eq!(h["x-total"], "45");
        assert_eq!(h["x-total-pages"], "3");
        assert_eq!(h["x-next-page"], "3");
        assert_eq!(h["x-prev-page"], "1");
        let link = h["link"].to_str().unwrap();
        assert!(
            link.starts_with(
                "<http://k/api/v4/projects/1/pipelines?ref=main&page=1&per_page=20>; rel=\"prev\""
            )
        );
        assert!(link.contains("page=3&per_page=20>; rel=\"last\""));
        assert!(!link.contains("secret"));
    }

    #[test]
    fn an_empty_list_has_one_page() {
        let uri: Uri = "/x".parse().unwrap();
        let response = paginated(Vec::<u8>::new(), 0, Pagination { page: 1, per_page: 20 }, "", &uri);
        assert_eq!(response.headers()["x-total-pages"], "1");
        assert_eq!(response.headers()["x-next-page"], "");
    }
}
