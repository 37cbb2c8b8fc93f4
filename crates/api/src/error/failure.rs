//! A failure of ours (a 500 or a 503): what the server was doing and the error that stopped
//! it, kept whole so that the log shows every cause while the answer shows none.

use std::error::Error;
use std::fmt;

/// Any error, boxed with what it wraps.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// What the server was doing (a constant, so no request data slips into it) and why it
/// failed. Logged once, with its whole chain, where the problem is answered.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct Failure {
    context: &'static str,
    #[source]
    source: Option<BoxError>,
}

impl Failure {
    /// A broken invariant, with no error of its own.
    pub fn new(context: &'static str) -> Failure {
        Failure {
            context,
            source: None,
        }
    }

    /// `context` failed because of `source`.
    pub fn caused_by(context: &'static str, source: impl Into<BoxError>) -> Failure {
        Failure {
            context,
            source: Some(source.into()),
        }
    }
}

/// An error and all its sources, joined by `: ` (`loading a customer: database error: …`): one
/// log field that holds the whole story.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let io = std::io::Error::other("disk on fire");
        let failure = Failure::caused_by("saving a customer", Outer(io));
        assert_eq!(
            Chain(&failure).to_string(),
            "saving a customer: outer: disk on fire"
        );
        assert_eq!(
            Chain(&Failure::new("state missing")).to_string(),
            "state missing"
        );
    }
}
