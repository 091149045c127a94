//! Errors that reach the web view: a sentence, not a debug dump.

/// A command failure, serialized as its message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] wa_store::StoreError),
    #[error(transparent)]
    Engine(#[from] wa_engine::EngineError),
    #[error(transparent)]
    Approval(#[from] wa_mcp::approvals::AnswerError),
    #[error(transparent)]
    Update(#[from] crate::updates::UpdateError),
    #[error("This works only in demo mode (the simulated phone).")]
    NotDemo,
    #[error("A file could not be written: {0}")]
    Io(String),
    /// Already a sentence for the person.
    #[error("{0}")]
    Said(String),
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}
