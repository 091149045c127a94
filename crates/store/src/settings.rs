//! Settings: JSON values under dotted keys (`mcp.chats`, `mcp.send_policy`, ...).

use serde::Serialize;

use crate::{Result, Store, StoreError, now_ms};

fn parse_setting<T: serde::de::DeserializeOwned>(key: &str, value: &str) -> Result<T> {
    serde_json::from_str(value)
        .map_err(|e| StoreError::InvalidInput(format!("The setting {key} holds an unexpected value: {e}")))
}

/// A group of settings read at once ([`Store::settings`]).
#[derive(Debug, Clone, Default)]
pub struct Settings(std::collections::HashMap<String, String>);

impl Settings {
    /// The value of `key`, when set.
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.0.get(key).map(|v| parse_setting(key, v)).transpose()
    }

    /// Every key with its stored (JSON) value, sorted by key.
    pub fn entries(&self) -> Vec<(&str, &str)> {
        let mut all: Vec<(&str, &str)> = self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.sort_unstable();
        all
    }
}

impl Store {
    /// Every setting whose key starts with `prefix`, in one read, as
    /// [`Settings`] to take typed values from.
    pub async fn settings(&self, prefix: &str) -> Result<Settings> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM settings WHERE key >= ? AND key < ? || char(1114111)")
                .bind(prefix)
                .bind(prefix)
                .fetch_all(self.reader())
                .await
                .map_err(|e| self.err(e))?;
        Ok(Settings(rows.into_iter().collect()))
    }

    /// A setting's value (JSON), if set.
    pub async fn setting<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(self.reader())
            .await
            .map_err(|e| self.err(e))?;
        value.map(|v| parse_setting(key, &v)).transpose()
    }

    /// Set a setting (stored as JSON).
    pub async fn set_setting<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        self.set_settings(&[(key, value)]).await
    }

    /// Set several settings at once: all are written or none.
    pub async fn set_settings(&self, values: &[(&str, serde_json::Value)]) -> Result<()> {
        self.update_settings("", |_| Ok(values.to_vec())).await
    }

    /// Read the settings under `prefix`, decide what to write from them
    /// (`change`), and write it, in one write transaction: a typed group of
    /// settings changes itself this way, so two changes at once (the window's
    /// and a background task's) never undo each other.
    pub async fn update_settings<'k>(
        &self,
        prefix: &str,
        change: impl FnOnce(&Settings) -> Result<Vec<(&'k str, serde_json::Value)>>,
    ) -> Result<()> {
        let mut tx = self.writer()?.begin().await.map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = if prefix.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as("SELECT key, value FROM settings WHERE key >= ? AND key < ? || char(1114111)")
                .bind(prefix)
                .bind(prefix)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
        };
        let values = change(&Settings(rows.into_iter().collect()))?;
        let at = now_ms();
        for (key, value) in &values {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(*key)
            .bind(value.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }
}
