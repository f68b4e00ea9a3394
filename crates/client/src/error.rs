//! What a call can fail with: tessera's answer (a problem document, with the
//! stable `code` to branch on), or no answer at all.

use std::time::Duration;

use tessera_api::Problem;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// tessera refused the call: `problem.code` says why, `problem.detail` how to
    /// fix it.
    #[error("tessera answered {}: {} ({})", .0.problem.status, .0.problem.detail, .0.problem.code)]
    Api(Box<ApiError>),
    /// No answer: tessera could not be reached, or the connection broke.
    #[error("tessera could not be reached: {0}")]
    Transport(#[from] reqwest::Error),
    /// An answer that is not what the API documents (a proxy's error page, say).
    #[error("tessera's answer ({status}) could not be read: {detail}")]
    UnexpectedAnswer { status: u16, detail: String },
    /// The client was built with a base URL that is not one.
    #[error("not a base URL: {0}")]
    BaseUrl(String),
    /// A guard's resource template does not read (`repo:{repo_id}` does).
    #[error("not a resource template: {0}")]
    ResourceTemplate(String),
}

/// A refusal, as tessera wrote it.
#[derive(Debug)]
pub struct ApiError {
    pub problem: Problem,
    /// `Retry-After`, when the answer has one (429, 503).
    pub retry_after: Option<Duration>,
}

impl Error {
    /// The problem's `code` (`invalid_token`, `insufficient_scope`, `not_found`,
    /// `rate_limited`...), when tessera answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(error) => Some(&error.problem.code),
            _ => None,
        }
    }

    /// The HTTP status, when tessera answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(error) => Some(error.problem.status),
            Error::UnexpectedAnswer { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long to wait before trying again, when tessera said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(error) => error.retry_after,
            _ => None,
        }
    }

    /// True when trying again later may succeed: no answer, or tessera said to
    /// (429, 503).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transport(_)) || matches!(self.status(), Some(429 | 503))
    }
}
