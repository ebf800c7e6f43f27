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
}
