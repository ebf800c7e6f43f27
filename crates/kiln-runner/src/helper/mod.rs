//! Helper subcommands that stage scripts call (`kiln runner helper ...`), so archiving
//! happens inside the job's environment: `artifacts-uploader`, `artifacts-downloader`,
//! `cache-archiver`, `cache-extractor`.
//!
//! Messages go to the writer the binary passes in (the job's output).

mod artifacts;
mod cache;

use std::io::Write;

pub use artifacts::{download_artifacts, upload_artifacts};
pub use cache::{archive_cache, extract_cache};

/// A helper failed; the message is what the job log shows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HelperError(pub String);

/// The helper subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum HelperCommand {
    /// Upload job artifacts.
    ArtifactsUploader(UploaderArgs),
    /// Download and extract a dependency's artifacts.
    ArtifactsDownloader(DownloaderArgs),
    /// Create (and upload) a cache archive.
    CacheArchiver(ArchiverArgs),
    /// (Download and) extract a cache archive.
    CacheExtractor(ExtractorArgs),
}

/// `artifacts-uploader`.
#[derive(Debug, Clone, clap::Args)]
pub struct UploaderArgs {
    #[arg(long)]
    pub url: String,
    #[arg(long)]
    pub token: String,
    #[arg(long)]
    pub id: i64,
    #[arg(long = "path")]
    pub paths: Vec<String>,
    #[arg(long = "exclude")]
    pub exclude: Vec<String>,
    #[arg(long)]
    pub untracked: bool,
    #[arg(long, default_value = "zip")]
    pub artifact_format: String,
    #[arg(long, default_value = "archive")]
    pub artifact_type: String,
    #[arg(long, default_value = "artifacts")]
    pub name: String,
    #[arg(long, default_value = "")]
    pub expire_in: String,
}

/// `artifacts-downloader`: one or more dependencies, each an `--id` with its `--token`
/// (and optionally its `--name` for the log), in one process.
#[derive(Debug, Clone, clap::Args)]
pub struct DownloaderArgs {
    #[arg(long)]
    pub url: String,
    #[arg(long = "token", required = true)]
    pub tokens: Vec<String>,
    #[arg(long = "id", required = true)]
    pub ids: Vec<i64>,
    /// The dependencies' job names: `Downloading artifacts for <name> (<id>)...`.
    #[arg(long = "name")]
    pub names: Vec<String>,
}

/// `cache-archiver`.
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiverArgs {
    #[arg(long)]
    pub file: String,
    #[arg(long = "path")]
    pub paths: Vec<String>,
    #[arg(long)]
    pub untracked: bool,
    #[arg(long)]
    pub url: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub max_uploaded_archive_size: u64,
}

/// `cache-extractor`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractorArgs {
    #[arg(long)]
    pub file: String,
    #[arg(long)]
    pub url: Option<String>,
    /// Minutes.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// The helper command line as a stage script passes it (`<subcommand> <args>...`).
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct HelperLine {
    #[command(subcommand)]
    command: HelperCommand,
}

impl HelperCommand {
    /// Parses the arguments a stage script would pass to the helper binary, so that
    /// a helper run in-process gets exactly what the binary would.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<HelperCommand, HelperError> {
        use clap::Parser;
        HelperLine::try_parse_from(args.iter().map(AsRef::as_ref))
            .map(|l| l.command)
            .map_err(|e| HelperError(format!("invalid helper arguments: {e}")))
    }
}

/// Runs a helper in the current directory.
pub async fn run(cmd: HelperCommand, out: &mut (dyn Write + Send)) -> Result<(), HelperError> {
    let cwd = std::env::current_dir()
        .map_err(|e| HelperError(format!("failed to read the current directory: {e}")))?;
    run_in(cmd, &cwd, None, out).await
}

/// Runs a helper in `cwd`; downloads wait in `tmp` (else the system's temporary
/// directory).
pub async fn run_in(
    cmd: HelperCommand,
    cwd: &std::path::Path,
    tmp: Option<&std::path::Path>,
    out: &mut (dyn Write + Send),
) -> Result<(), HelperError> {
    match cmd {
        HelperCommand::ArtifactsUploader(a) => upload_artifacts(&a, cwd, out).await,
        HelperCommand::ArtifactsDownloader(a) => download_artifacts(&a, cwd, tmp, out).await,
        HelperCommand::CacheArchiver(a) => archive_cache(&a, cwd, out).await,
        HelperCommand::CacheExtractor(a) => extract_cache(&a, cwd, out).await,
    }
}

/// A URL with its query removed, for messages (presigned URLs carry signatures).
pub(crate) fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
