//! Errors that reach the web view: a sentence, not a debug dump.

/// A command failure, serialized as its message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    App(#[from] wa_app::AppError),
    /// Already a sentence for the person.
    #[error("{0}")]
    Said(String),
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}
