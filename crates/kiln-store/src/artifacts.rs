//! Job artifacts: the archive and reports a job uploads, streamed into the blob
//! store, recorded with their type, format, size, SHA-256 and expiry.
//!
//! Upload order makes a crash harmless: the blob is written under a fresh random
//! key first, then one transaction records it (replacing the job's previous file of
//! the same type); only after that commit is a replaced blob deleted. A crash
//! before the commit leaves an unreferenced blob under `artifacts/`, never a row
//! without its blob.

use bytes::Bytes;
use futures::Stream;
use rand::TryRngCore;
use serde::Serialize;

use crate::Store;
use crate::blob::BlobStore;
use crate::codec::{Millis, named_enum};
use crate::db::{read_tx, write_tx};
use crate::error::{Error, Result};
use crate::ids::{ArtifactId, BuildId, ProjectId};

named_enum! {
    /// GitLab's `file_type` of job artifacts.
    pub enum ArtifactType {
        Archive = "archive",
        Metadata = "metadata",
        Trace = "trace",
        Junit = "junit",
        Sast = "sast",
        DependencyScanning = "dependency_scanning",
        ContainerScanning = "container_scanning",
        Dast = "dast",
        Codequality = "codequality",
        LicenseScanning = "license_scanning",
        Performance = "performance",
        Metrics = "metrics",
        MetricsReferee = "metrics_referee",
        NetworkReferee = "network_referee",
        Lsif = "lsif",
        Dotenv = "dotenv",
        Cobertura = "cobertura",
        Terraform = "terraform",
        Accessibility = "accessibility",
        SecretDetection = "secret_detection",
        Requirements = "requirements",
        CoverageFuzzing = "coverage_fuzzing",
        BrowserPerformance = "browser_performance",
        LoadPerformance = "load_performance",
        ApiFuzzing = "api_fuzzing",
        ClusterImageScanning = "cluster_image_scanning",
        Cyclonedx = "cyclonedx",
        RequirementsV2 = "requirements_v2",
        Annotations = "annotations",
        RepositoryXray = "repository_xray",
        Jacoco = "jacoco",
    }
}

named_enum! {
    /// `artifact_format`.
    pub enum ArtifactFormat {
        Zip = "zip",
        Gzip = "gzip",
        Raw = "raw",
    }
}

/// A stored artifact file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    pub id: ArtifactId,
    pub job_id: BuildId,
    pub project_id: ProjectId,
    pub file_type: ArtifactType,
    pub file_format: ArtifactFormat,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub blob_key: String,
    pub expire_at: Option<Millis>,
    pub created_at: Millis,
}

/// What an upload is.
#[derive(Debug, Clone)]
pub struct NewArtifact {
    pub job: BuildId,
    pub file_type: ArtifactType,
    pub file_format: ArtifactFormat,
    pub file_name: String,
    pub expire_at: Option<Millis>,
}

impl Store {
    /// Streams an upload into the blob store and records it; a body over `max_size`
    /// fails with [`Error::TooLarge`] and records nothing.
    pub async fn store_artifact<S, E>(
        &self,
        blobs: &BlobStore,
        new: &NewArtifact,
        body: S,
        max_size: Option<u64>,
    ) -> Result<Artifact>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let job = self.job(new.job).await?;
        let mut nonce = [0u8; 8];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(|e| Error::Blob(format!("os random: {e}")))?;
        let key = format!("artifacts/{}/{}/{}-{}", job.project_id, job.id, new.file_type, hex::encode(nonce));
        let put = match blobs.put_stream(&key, body, max_size).await {
            Ok(put) => put,
            Err(e) => {
                let _ = blobs.delete(&key).await;
                return Err(e);
            }
        };
        let now = Millis::now();
        let (artifact, replaced) =
            write_tx!(self, |c, q| q::artifacts::record(c, new, job.project_id, &key, &put, now).await?)?;
        if let Some(old) = replaced {
            blobs.delete(&old).await?;
        }
        Ok(artifact)
    }

    /// A job's artifact files.
    pub async fn job_artifacts(&self, job: BuildId) -> Result<Vec<Artifact>> {
        read_tx!(self, |c, q| q::artifacts::of_job(c, job).await?)
    }

    /// One file of a job by type.
    pub async fn job_artifact(&self, job: BuildId, file_type: ArtifactType) -> Result<Artifact> {
        read_tx!(self, |c, q| q::artifacts::of_job_by_type(c, job, file_type).await?)
    }

    /// Artifacts whose expiry has passed, oldest first.
    pub async fn expired_artifacts(&self, now: Millis, limit: i64) -> Result<Vec<Artifact>> {
        self.expired_artifacts_after(now, None, limit).await
    }

    /// Expired artifacts after `after` (the `expire_at` and id of the last one
    /// seen), oldest first: a cleanup that keeps some still pages past them.
    pub async fn expired_artifacts_after(
        &self,
        now: Millis,
        after: Option<(Millis, ArtifactId)>,
        limit: i64,
    ) -> Result<Vec<Artifact>> {
        read_tx!(self, |c, q| q::artifacts::expired(c, now, after, limit).await?)
    }

    /// Deletes an artifact's row, then its blob.
    pub async fn delete_artifact(&self, blobs: &BlobStore, id: ArtifactId) -> Result<()> {
        let key = write_tx!(self, |c, q| q::artifacts::delete(c, id).await?)?;
        blobs.delete(&key).await
    }

    /// Keeps a job's artifacts forever (`keep`), or sets a new expiry.
    pub async fn set_artifacts_expiry(&self, job: BuildId, expire_at: Option<Millis>) -> Result<()> {
        write_tx!(self, |c, q| q::artifacts::set_expiry(c, job, expire_at).await?)
    }
}
