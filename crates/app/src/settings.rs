//! The app's own settings (the wizard, start at login, update checks) and
//! the Safety page's view of them together with the assistants' send policy:
//! one load and one save each, the keys written here once.

use serde::{Deserialize, Serialize};
use wa_mcp::policy::{self, SendPolicy};
use wa_store::{Store, StoreError};

use crate::error::AppError;
use crate::services::Services;

/// The setting that says the wizard was finished.
pub const SETUP_DONE: &str = "app.setup_done";
/// Autostart at login, as the person chose it (the wizard turns it on).
pub const AUTOSTART: &str = "app.autostart";
/// The check for updates a little after start (on unless set to false).
pub const CHECK_UPDATES: &str = "app.check_updates";

/// The fewest and most sends a minute the Safety page accepts.
const SENDS_PER_MINUTE: std::ops::RangeInclusive<u32> = 1..=120;

/// Whether the wizard was finished.
pub async fn setup_done(store: &Store) -> Result<bool, StoreError> {
    Ok(store.setting::<bool>(SETUP_DONE).await?.unwrap_or(false))
}

/// Whether to check for updates after start.
pub async fn check_updates(store: &Store) -> Result<bool, StoreError> {
    Ok(store.setting::<bool>(CHECK_UPDATES).await?.unwrap_or(true))
}

/// The settings the Safety page edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetySettings {
    pub send_policy: SendPolicy,
    pub recipients: Vec<String>,
    pub sends_per_minute: u32,
    pub autostart: bool,
    /// Check for updates a little after start (on unless turned off).
    #[serde(default = "yes")]
    pub check_updates: bool,
}

fn yes() -> bool {
    true
}

impl Services {
    pub async fn safety_settings(&self) -> Result<SafetySettings, AppError> {
        let policy = wa_mcp::Policy::load(&self.store, &self.data_dir).await?;
        let app = self.store.settings("app.").await?;
        Ok(SafetySettings {
            send_policy: policy.send,
            recipients: policy.recipients,
            sends_per_minute: policy.sends_per_minute,
            autostart: app.get::<bool>(AUTOSTART)?.unwrap_or(false),
            check_updates: app.get::<bool>(CHECK_UPDATES)?.unwrap_or(true),
        })
    }

    /// Save the Safety page (the rate is kept between 1 and 120 a minute).
    pub async fn set_safety_settings(&self, settings: &SafetySettings) -> Result<(), AppError> {
        let store = &self.store;
        store.set_setting(policy::SEND_POLICY, &settings.send_policy).await?;
        store.set_setting(policy::RECIPIENTS, &settings.recipients).await?;
        let rate = settings
            .sends_per_minute
            .clamp(*SENDS_PER_MINUTE.start(), *SENDS_PER_MINUTE.end());
        store.set_setting(policy::SENDS_PER_MINUTE, &rate).await?;
        store.set_setting(AUTOSTART, &settings.autostart).await?;
        store.set_setting(CHECK_UPDATES, &settings.check_updates).await?;
        Ok(())
    }

    /// The end of the wizard: the send-safety choice and autostart.
    pub async fn finish_setup(&self, send_policy: SendPolicy, autostart: bool) -> Result<(), AppError> {
        self.store.set_setting(policy::SEND_POLICY, &send_policy).await?;
        self.store.set_setting(AUTOSTART, &autostart).await?;
        self.store.set_setting(SETUP_DONE, &true).await?;
        Ok(())
    }

    /// Open the wizard again (the main window's "Set up again").
    pub async fn reopen_wizard(&self) -> Result<(), AppError> {
        Ok(self.store.set_setting(SETUP_DONE, &false).await?)
    }
}
