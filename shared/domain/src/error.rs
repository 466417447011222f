//! Classified domain errors; the HTTP edge turns each class into a status and a problem type.

use docket_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("{field}: {reason}")]
    Conflict { field: String, reason: String },
    /// The version the caller based its change on is no longer current.
    #[error("the resource was changed since version {expected}")]
    StaleVersion { expected: u64 },
    #[error("updates need an If-Match header carrying the ETag of the version read")]
    VersionRequired,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many requests in a time window; worth retrying after the given number of seconds.
    #[error("{reason}")]
    RateLimited { reason: String, retry_after_secs: u64 },
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        DomainError::Validation { field: field.to_owned(), reason: reason.into() }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        DomainError::NotFound { what: what.into() }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Transient(m) => DomainError::Transient(m),
            StoreError::InvalidCursor => DomainError::invalid("cursor", "not a cursor returned by this list"),
            StoreError::Validation(m) => DomainError::Internal(format!("store refused a request: {m}")),
            other => DomainError::Internal(other.to_string()),
        }
    }
}

/// A blob store's failure: a missing blob is not found, a failure worth retrying is transient,
/// and anything else (the store refusing a request Docket built) is internal.
impl From<docket_ports::PortError> for DomainError {
    fn from(e: docket_ports::PortError) -> Self {
        match e {
            docket_ports::PortError::NotFound(what) => DomainError::NotFound { what },
            docket_ports::PortError::Transient(m) => DomainError::Transient(m),
            docket_ports::PortError::Invalid(m) | docket_ports::PortError::Backend(m) => DomainError::Internal(m),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// Why a queue message could not be worked: retry it later, or never (it goes to the dead
/// letters once the queue has delivered it often enough).
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("retry later: {0}")]
    Retry(String),
    #[error("poison message: {0}")]
    Poison(String),
}

impl WorkError {
    /// Logs why a message of `queue` failed: a poison message as an error (it will end in the
    /// dead letters), a transient failure as a warning (it will be retried).
    pub fn log(&self, queue: &str, message_id: &str) {
        match self {
            WorkError::Poison(reason) => tracing::error!(queue, message_id, %reason, "poison message; it will end in the dead-letter queue"),
            WorkError::Retry(reason) => tracing::warn!(queue, message_id, %reason, "message failed; it will be retried"),
        }
    }
}

impl From<DomainError> for WorkError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation { .. } | DomainError::NotFound { .. } => WorkError::Poison(e.to_string()),
            other => WorkError::Retry(other.to_string()),
        }
    }
}
