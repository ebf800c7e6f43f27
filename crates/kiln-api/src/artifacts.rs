//! Artifact upload parameters: formats and the query of `POST /jobs/:id/artifacts`.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// `artifact_format`; empty means `zip`.
    #[derive(Default)]
    pub enum ArtifactFormat {
        #[default]
        Zip = "zip",
        Gzip = "gzip",
        Raw = "raw",
        ZipZstd = "zipzstd",
        TarZstd = "tarzstd",
    }
}

impl ArtifactFormat {
    /// The file-name extension the uploader adds to the artifact's name.
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Zip | Self::Unknown(_) => ".zip",
            Self::Gzip => ".gz",
            Self::Raw => "",
            Self::ZipZstd => ".zip",
            Self::TarZstd => ".tar.zst",
        }
    }
}

/// The multipart field name of the uploaded file.
pub const UPLOAD_FILE_FIELD: &str = "file";

/// The query parameters of an artifact upload, in gitlab-runner's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadQuery {
    pub artifact_format: String,
    pub artifact_type: String,
    pub expire_in: String,
}

impl UploadQuery {
    /// The non-empty parameters as `(name, value)` pairs.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("artifact_format", self.artifact_format.as_str()),
            ("artifact_type", self.artifact_type.as_str()),
            ("expire_in", self.expire_in.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}
