//! What can go wrong in the app's services, each a sentence for the person
//! (the window shows the `Display` text; the helper prints it).

/// A failure of the app's services.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] wa_store::StoreError),
    #[error(transparent)]
    Engine(#[from] wa_engine::EngineError),
    #[error(transparent)]
    Account(#[from] wa_engine::real::SetupError),
    #[error(transparent)]
    Key(#[from] crate::key::KeyError),
    #[error(transparent)]
    Channel(#[from] crate::channel::ChannelError),
    #[error(transparent)]
    Remote(#[from] wa_mcp::remote::RemoteError),
    #[error(transparent)]
    Approval(#[from] wa_mcp::approvals::AnswerError),
    #[error(transparent)]
    NoHome(#[from] crate::paths::NoHome),
    #[error("This works only in demo mode (the simulated phone).")]
    NotDemo,
    #[error("A file could not be written: {0}")]
    Io(String),
    /// Already a sentence for the person.
    #[error("{0}")]
    Said(String),
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}
