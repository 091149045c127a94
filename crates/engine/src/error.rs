//! [`EngineError`]: why the engine could not do what it was asked, one
//! sentence each saying what to do.

use std::path::PathBuf;

use wa_store::StoreError;

use crate::port::PortError;
use crate::sync::JobCommandRefused;

/// Why the engine could not do what it was asked, in words for people.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("This needs a linked WhatsApp account. Link one in the app first.")]
    NotLinked,
    #[error("Not connected to WhatsApp right now; try again when the app shows Connected.")]
    NotConnected,
    #[error("{0}")]
    Job(#[from] JobCommandRefused),
    #[error("{what} was not found.")]
    NotFound { what: String },
    #[error("That message has no photo, video, audio or document to download.")]
    NoMedia,
    #[error("The file is {size_mb} MB, more than the {limit_mb} MB limit. Raise the limit in Settings if you need it.")]
    TooLarge { size_mb: u64, limit_mb: u64 },
    #[error(
        "The file is no longer on WhatsApp's servers and only your phone can send it again, but your phone did \
         not answer. Open WhatsApp on your phone, keep it connected to the internet, and try again."
    )]
    PhoneOffline,
    #[error("The downloaded file does not match what the message describes (it was damaged); try again.")]
    Damaged,
    #[error("{0}")]
    InvalidInput(String),
    #[error("The file {path} could not be read or written: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("WhatsApp is busy; the engine tried several times. Try again in a few minutes. ({0})")]
    GaveUp(PortError),
    #[error("{0}")]
    Port(PortError),
}

impl From<wa_store::JidError> for EngineError {
    fn from(e: wa_store::JidError) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

impl From<PortError> for EngineError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::NotConnected => Self::NotConnected,
            PortError::PhoneOffline => Self::PhoneOffline,
            other => Self::Port(other),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
