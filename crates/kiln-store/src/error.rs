//! The store's error type: what a caller can act on (not found, lost a race, bad
//! input) kept apart from what it can only report (database or blob failures).

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist (or is not visible to the caller's query).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A compare-and-set lost (another writer changed the row first) or a unique
    /// constraint refused the write: reload and decide again.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input cannot be stored as given.
    #[error("invalid {0}")]
    Invalid(String),
    /// `kiln_pipeline` refused the event (retrying a running job, playing a job that
    /// is not manual, ...); nothing was written.
    #[error("refused: {0}")]
    Rejected(#[source] kiln_pipeline::Rejected),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[source] sqlx::Error),
    /// A body was larger than the limit it was given (HTTP 413).
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The blob store failed.
    #[error("blob store: {0}")]
    Blob(String),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match &e {
            sqlx::Error::RowNotFound => Error::NotFound("row"),
            sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(d.message().to_owned()),
            _ => Error::Db(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Error {
        Error::Db(sqlx::Error::Migrate(Box::new(e)))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Invalid(format!("stored json: {e}"))
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound("blob"),
            other => Error::Blob(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound("blob")
        } else {
            Error::Blob(e.to_string())
        }
    }
}
