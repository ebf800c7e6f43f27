//! `artifacts:` with every report type.

use crate::model::common::{Duration, Spanned};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Artifacts {
    pub name: Option<String>,
    pub paths: Vec<Spanned<String>>,
    pub exclude: Vec<Spanned<String>>,
    pub expose_as: Option<String>,
    pub untracked: Option<bool>,
    /// Default `on_success`.
    pub when: Option<ArtifactsWhen>,
    /// Text kept as written (`never`, `1 week`): the runner gets it as is.
    pub expire_in: Option<Duration>,
    pub access: Option<ArtifactsAccess>,
    pub public: Option<bool>,
    pub reports: Vec<Report>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactsWhen {
    OnSuccess,
    OnFailure,
    Always,
}

impl ArtifactsWhen {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactsWhen::OnSuccess => "on_success",
            ArtifactsWhen::OnFailure => "on_failure",
            ArtifactsWhen::Always => "always",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactsAccess {
    All,
    Developer,
    Maintainer,
    None,
}

impl ArtifactsAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactsAccess::All => "all",
            ArtifactsAccess::Developer => "developer",
            ArtifactsAccess::Maintainer => "maintainer",
            ArtifactsAccess::None => "none",
        }
    }
}

/// One `artifacts:reports:<kind>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    pub paths: Vec<Spanned<String>>,
    /// `coverage_report: {coverage_format: cobertura|jacoco}` only.
    pub coverage_format: Option<String>,
}

macro_rules! report_kinds {
    ($($variant:ident = $name:literal,)*) => {
        /// Every report type GitLab accepts under `artifacts:reports`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ReportKind { $($variant,)* }

        impl ReportKind {
            pub const ALL: &'static [ReportKind] = &[$(ReportKind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(ReportKind::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<ReportKind> {
                match s { $($name => Some(ReportKind::$variant),)* _ => None }
            }
        }
    };
}

report_kinds! {
    Annotations = "annotations",
    Junit = "junit",
    Codequality = "codequality",
    Sast = "sast",
    SecretDetection = "secret_detection",
    DependencyScanning = "dependency_scanning",
    ContainerScanning = "container_scanning",
    Dast = "dast",
    Performance = "performance",
    BrowserPerformance = "browser_performance",
    LoadPerformance = "load_performance",
    LicenseScanning = "license_scanning",
    LicenseManagement = "license_management",
    Metrics = "metrics",
    Requirements = "requirements",
    RequirementsV2 = "requirements_v2",
    CoverageFuzzing = "coverage_fuzzing",
    ApiFuzzing = "api_fuzzing",
    ClusterImageScanning = "cluster_image_scanning",
    CoverageReport = "coverage_report",
    Dotenv = "dotenv",
    Terraform = "terraform",
    Accessibility = "accessibility",
    Cyclonedx = "cyclonedx",
    Lsif = "lsif",
    Sarif = "sarif",
    RepositoryXray = "repository_xray",
}

impl ReportKind {
    /// Report types GitLab's processor still reads but its schema no longer
    /// lists: strict mode rejects them.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            ReportKind::Performance | ReportKind::RequirementsV2 | ReportKind::ClusterImageScanning
        )
    }

    /// Report types that take exactly one path.
    pub fn single_path(self) -> bool {
        matches!(self, ReportKind::Accessibility | ReportKind::Annotations | ReportKind::BrowserPerformance)
    }
}

use crate::model::common::parse_duration_node;
use crate::model::cx::{Cx, string_list, sub};
use crate::yaml::{Node, Value};

const KEYS: &[&str] = &[
    "name",
    "untracked",
    "paths",
    "reports",
    "when",
    "expire_in",
    "expose_as",
    "exclude",
    "public",
    "access",
];

/// `artifacts:` (`loc` = `jobs:name` or `default`).
pub(crate) fn parse_artifacts(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Option<Artifacts> {
    let aloc = sub(loc, "artifacts");
    let map = cx.map(node, &aloc)?;
    cx.check_keys(map, KEYS, &aloc);
    let mut a = Artifacts::default();
    for (key, value) in map.iter() {
        if value.is_null() {
            cx.strict_err(value.span, &aloc, &format!("{} can't be blank", key.name));
            continue;
        }
        match key.name.as_str() {
            "name" => a.name = cx.string(value, &aloc, "name").map(|s| s.value),
            "untracked" => a.untracked = cx.boolean(value, &aloc, "untracked"),
            "paths" => a.paths = cx.strings(value, &aloc, "paths").unwrap_or_default(),
            "exclude" => {
                a.exclude = cx.strings(value, &aloc, "exclude").unwrap_or_default();
            }
            "expose_as" => {
                if let Some(s) = cx.string(value, &aloc, "expose as") {
                    if !s.value.chars().all(|c| c.is_alphanumeric() || " -_".contains(c)) {
                        cx.err(
                            value.span,
                            &aloc,
                            "expose as can contain only letters, digits, '-', '_' and spaces",
                        );
                    }
                    a.expose_as = Some(s.value);
                }
            }
            "when" => {
                a.when = match value.as_str() {
                    Some("on_success") => Some(ArtifactsWhen::OnSuccess),
                    Some("on_failure") => Some(ArtifactsWhen::OnFailure),
                    Some("always") => Some(ArtifactsWhen::Always),
                    _ => {
                        cx.err(value.span, &aloc, "when should be on_success, on_failure or always");
                        None
                    }
                }
            }
            "expire_in" => {
                a.expire_in = if value.as_str() == Some("never") {
                    Some(Duration { text: "never".into(), seconds: None, span: value.span })
                } else {
                    parse_duration_node(cx, value, &aloc, "expire in", None, false)
                }
            }
            "public" => a.public = cx.boolean(value, &aloc, "public"),
            "access" => {
                a.access = match value.as_str() {
                    Some("all") => Some(ArtifactsAccess::All),
                    Some("developer") => Some(ArtifactsAccess::Developer),
                    Some("maintainer") => Some(ArtifactsAccess::Maintainer),
                    Some("none") => Some(ArtifactsAccess::None),
                    _ => {
                        cx.err(
                            value.span,
                            &aloc,
                            "access should be one of: all, developer, maintainer, none",
                        );
                        None
                    }
                }
            }
            "reports" => a.reports = parse_reports(cx, value, &sub(&aloc, "reports")),
            _ => {}
        }
    }
    if a.expose_as.is_some() && a.paths.is_empty() {
        cx.err(node.span, &aloc, "paths can't be blank");
    }
    if map.contains_key("public") && map.contains_key("access") {
        cx.err(node.span, &aloc, "config these keys cannot be used together: public, access");
    }
    Some(a)
}

fn parse_reports(cx: &mut Cx<'_>, node: &Node, loc: &str) -> Vec<Report> {
    let Some(map) = cx.map(node, loc) else { return Vec::new() };
    let allowed: Vec<&str> = ReportKind::ALL.iter().map(|k| k.as_str()).collect();
    cx.check_keys(map, &allowed, loc);
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let Some(kind) = ReportKind::parse(&key.name) else { continue };
        let what = key.name.replace('_', " ");
        if value.is_null() {
            if kind != ReportKind::CoverageReport {
                cx.strict_err(value.span, loc, &format!("{what} can't be blank"));
            }
            continue;
        }
        match kind {
            ReportKind::CoverageReport => {
                let Some(m) = cx.map(value, &sub(loc, "coverage_report")) else { continue };
                let cloc = sub(loc, "coverage_report");
                cx.check_keys(m, &["path", "coverage_format"], &cloc);
                let path = m.get("path").and_then(|p| cx.string(p, &cloc, "path"));
                let format = match m.get("coverage_format").and_then(|f| f.as_str()) {
                    Some(f @ ("cobertura" | "jacoco")) => Some(f.to_string()),
                    _ => {
                        cx.err(value.span, &cloc, "coverage format must be one of: cobertura, jacoco");
                        None
                    }
                };
                if path.is_none() && !m.contains_key("path") {
                    cx.err(value.span, &cloc, "path can't be blank");
                }
                out.push(Report { kind, paths: path.into_iter().collect(), coverage_format: format });
            }
            _ if cx.strict && kind.is_legacy() => {
                cx.err(key.span, loc, &format!("config contains unknown keys: {}", key.name));
            }
            // The schema takes one path (not a list) for these.
            _ if cx.strict && kind.single_path() && !matches!(value.value, Value::Str(_)) => {
                cx.err(value.span, loc, &format!("{what} should be a string"));
            }
            _ => {
                let paths = match &value.value {
                    Value::Str(s) => Some(vec![Spanned::new(s.clone(), value.span)]),
                    _ => string_list(value),
                };
                match paths {
                    Some(paths) => out.push(Report { kind, paths, coverage_format: None }),
                    None => {
                        cx.err(value.span, loc, &format!("{what} should be an array of strings or a string"))
                    }
                }
            }
        }
    }
    out
}
