//! The app's own settings ([`AppSettings`]: the wizard, start at login,
//! update checks) and the Safety page's view of them together with the
//! assistants' send policy ([`wa_mcp::Policy`]). Each is one typed value with
//! one load and one save; the keys are written in their module once.

use serde::{Deserialize, Serialize};
use wa_mcp::Policy;
use wa_mcp::policy::SendPolicy;
use wa_store::{Jid, Settings, Store, StoreError};

use crate::error::AppError;
use crate::services::Services;

/// The setting that says the wizard was finished.
const SETUP_DONE: &str = "app.setup_done";
/// Autostart at login, as the person chose it (the wizard turns it on).
const AUTOSTART: &str = "app.autostart";
/// The check for updates a little after start (on unless set to false).
const CHECK_UPDATES: &str = "app.check_updates";
/// The "your messages are here" notification was shown once.
const FIRST_SYNC_NOTIFIED: &str = "app.first_sync_notified";

/// The app's own settings: independent yes/no choices, each a setting of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct AppSettings {
    /// The wizard was finished (the main window opens instead).
    pub setup_done: bool,
    /// Start at login.
    pub autostart: bool,
    /// Check for updates a little after start.
    pub check_updates: bool,
    /// The notification after the first sync was shown.
    pub first_sync_notified: bool,
}

impl AppSettings {
    /// The settings as stored, with defaults for what is unset.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        Self::read(&store.settings("app.").await?)
    }

    fn read(s: &Settings) -> Result<Self, StoreError> {
        Ok(Self {
            setup_done: s.get(SETUP_DONE)?.unwrap_or(false),
            autostart: s.get(AUTOSTART)?.unwrap_or(false),
            check_updates: s.get(CHECK_UPDATES)?.unwrap_or(true),
            first_sync_notified: s.get(FIRST_SYNC_NOTIFIED)?.unwrap_or(false),
        })
    }

    /// Change them: `change` sees them as stored now and edits them, and all
    /// are written back, in one write transaction (a change made meanwhile by
    /// anyone else is seen, never undone). Returns the settings as written.
    pub async fn update(store: &Store, change: impl FnOnce(&mut Self)) -> Result<Self, StoreError> {
        let mut written = None;
        store
            .update_settings("app.", |s| {
                let mut settings = Self::read(s)?;
                change(&mut settings);
                written = Some(settings);
                Ok(vec![
                    (SETUP_DONE, settings.setup_done.into()),
                    (AUTOSTART, settings.autostart.into()),
                    (CHECK_UPDATES, settings.check_updates.into()),
                    (FIRST_SYNC_NOTIFIED, settings.first_sync_notified.into()),
                ])
            })
            .await?;
        match written {
            Some(settings) => Ok(settings),
            None => Self::load(store).await,
        }
    }
}

impl AppSettings {
    /// True the first time only: remembers that the first full history was
    /// announced (while the wizard may be finishing, from the window).
    pub async fn claim_first_sync(store: &Store) -> Result<bool, StoreError> {
        let mut first = false;
        Self::update(store, |s| {
            first = !s.first_sync_notified;
            s.first_sync_notified = true;
        })
        .await?;
        Ok(first)
    }
}

/// The settings the Safety page edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetySettings {
    pub send_policy: SendPolicy,
    /// One per line as the person typed it: a phone number with its country
    /// code or a chat's address. Saved checked ([`Jid::from_input`]); shown
    /// back as addresses.
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

/// The allowlist lines as addresses, or which line is wrong and why.
fn recipients(lines: &[String]) -> Result<Vec<Jid>, AppError> {
    lines
        .iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(n, line)| {
            Jid::from_input(line).map_err(|e| {
                AppError::Said(format!(
                    "Allowed recipients, entry {}: {e} Nothing was saved; correct it and save again.",
                    n + 1
                ))
            })
        })
        .collect()
}

impl Services {
    pub async fn app_settings(&self) -> Result<AppSettings, AppError> {
        Ok(AppSettings::load(&self.store).await?)
    }

    pub async fn safety_settings(&self) -> Result<SafetySettings, AppError> {
        let policy = Policy::load(&self.store, &self.data_dir).await?;
        let app = AppSettings::load(&self.store).await?;
        Ok(SafetySettings {
            send_policy: policy.send,
            recipients: policy.recipients.into_iter().map(Jid::into_string).collect(),
            sends_per_minute: policy.sends_per_minute,
            autostart: app.autostart,
            check_updates: app.check_updates,
        })
    }

    /// Save the Safety page: every recipient is checked first, and nothing is
    /// saved if one is not an address (the rate is kept between 1 and 120 a minute).
    pub async fn set_safety_settings(&self, settings: &SafetySettings) -> Result<(), AppError> {
        let recipients = recipients(&settings.recipients)?;
        Policy::update(&self.store, &self.data_dir, |policy| {
            policy.send = settings.send_policy;
            policy.recipients = recipients;
            policy.sends_per_minute = settings.sends_per_minute;
        })
        .await?;
        AppSettings::update(&self.store, |app| {
            app.autostart = settings.autostart;
            app.check_updates = settings.check_updates;
        })
        .await?;
        Ok(())
    }

    /// The end of the wizard: the send-safety choice and autostart.
    pub async fn finish_setup(&self, send_policy: SendPolicy, autostart: bool) -> Result<(), AppError> {
        Policy::update(&self.store, &self.data_dir, |policy| policy.send = send_policy).await?;
        AppSettings::update(&self.store, |app| {
            app.autostart = autostart;
            app.setup_done = true;
        })
        .await?;
        Ok(())
    }

    /// Whether this is the moment to say the first full history arrived: true
    /// once per archive, remembered in it.
    pub async fn first_history_ready(&self) -> bool {
        AppSettings::claim_first_sync(&self.store).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read or remember whether the first history was announced");
            false
        })
    }

    /// Open the wizard again (the main window's "Set up again").
    pub async fn reopen_wizard(&self) -> Result<(), AppError> {
        AppSettings::update(&self.store, |app| app.setup_done = false).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wizard's Finish and the first-history notice land together: the
    /// notice's flag must not write back the wizard's keys from an older copy.
    #[tokio::test]
    async fn the_first_history_flag_is_written_alone_and_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path().join("m.db")).await.expect("store");
        // Both at once, many times: neither change is ever lost.
        for _ in 0..20 {
            let (finished, first) = tokio::join!(
                AppSettings::update(&store, |s| s.setup_done = true),
                AppSettings::claim_first_sync(&store),
            );
            finished.expect("finish");
            first.expect("claim");
            let now = AppSettings::load(&store).await.expect("load");
            assert!(now.setup_done && now.first_sync_notified, "{now:?}");
            AppSettings::update(&store, |s| {
                s.setup_done = false;
                s.first_sync_notified = false;
            })
            .await
            .expect("reset");
        }
        assert!(AppSettings::claim_first_sync(&store).await.expect("claim"));
        assert!(!AppSettings::claim_first_sync(&store).await.expect("again"), "once");
    }

    #[test]
    fn allowlist_lines_become_addresses_or_say_which_is_wrong() {
        let lines: Vec<String> = ["+44 7700 900123", "", "120363000000000001@g.us"]
            .into_iter()
            .map(String::from)
            .collect();
        let jids = recipients(&lines).expect("all good");
        assert_eq!(jids[0], "447700900123@s.whatsapp.net");
        assert_eq!(jids[1], "120363000000000001@g.us");
        let wrong = recipients(&["447700900123".into(), "bob".into()]).expect_err("bob");
        let said = wrong.to_string();
        assert!(
            said.contains("entry 2") && said.contains("\"bob\"") && said.contains("Nothing was saved"),
            "{said}"
        );
    }
}
