//! Media downloads: fetch a message's file, check it, save it, say where.
//!
//! The file is fetched with the fields its message carried (direct path, media
//! key, hashes). Transient failures are retried with the backoff. WhatsApp keeps
//! files on its servers for a few weeks; when the link has expired the engine
//! asks the phone to upload the file again and retries with the new path (the
//! old system's "media can no longer be downloaded"). The bytes are checked
//! against the SHA-256 the message carries, then written atomically under
//! `<data dir>/media/<chat>/` with a readable name and the right extension,
//! readable by this user only.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wa_store::{MediaInfo, MediaRecord, Message, MessageKey, MessageKind};
use whatsapp_rust::download::{DownloadParams, MediaType};

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::port::{PortError, ReuploadRequest};

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedMedia {
    pub path: PathBuf,
    pub mime: Option<String>,
    pub bytes: u64,
    /// Whether the file had expired on WhatsApp's servers and the phone sent it again.
    pub reuploaded: bool,
}

const ATTEMPTS: u32 = 5;

/// Whether `direct_path`, which a message carries and anyone can write, is a
/// path on WhatsApp's media servers. The client library asks
/// `https://{media host}{direct_path}?auth=...`: a path that does not start
/// with one `/` moves the request (and its auth token and the person's
/// address) elsewhere, as `.attacker.example/x`, `@attacker.example/x` or
/// `:8443/x` would; spaces, controls and backslashes have no place in it.
pub(crate) fn media_server_path(direct_path: &str) -> bool {
    direct_path.starts_with('/')
        && !direct_path.starts_with("//")
        && direct_path.len() <= 4096
        && direct_path.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

pub(crate) fn media_type(kind: MessageKind) -> MediaType {
    match kind {
        MessageKind::Image => MediaType::Image,
        MessageKind::Video => MediaType::Video,
        MessageKind::Audio | MessageKind::Voice => MediaType::Audio,
        MessageKind::Sticker => MediaType::Sticker,
        _ => MediaType::Document,
    }
}

/// The extension for a file of type `mime` (WhatsApp's common types first).
pub(crate) fn extension(mime: Option<&str>, file_name: Option<&str>) -> String {
    if let Some(ext) = file_name
        .and_then(|n| Path::new(n).extension())
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return ext.to_ascii_lowercase();
    }
    let essence = mime.unwrap_or_default().split(';').next().unwrap_or_default().trim();
    let common = match essence {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "application/pdf" => "pdf",
        _ => "",
    };
    if !common.is_empty() {
        return common.to_owned();
    }
    mime_guess::get_mime_extensions_str(essence)
        .and_then(|exts| exts.first())
        .map_or_else(|| "bin".to_owned(), |e| (*e).to_owned())
}

/// Letters, digits, `-` and `_` only: safe in a file name on every system.
fn safe(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect();
    cleaned.trim_matches('_').to_owned()
}

/// `media/<chat>/<date>_<id>[_<original name>].<ext>`: a name every system
/// accepts, whatever the sender called the file. Only letters, digits, `-`
/// and `_` come from outside, and the name starts with the date, so it is
/// never one Windows reserves (`CON`, `aux.txt`), never holds `:` or `\`, and
/// never ends in a dot or a space.
fn file_path(media_dir: &Path, message: &Message, record: &MediaRecord) -> PathBuf {
    media_dir.join(media_name(&message.chat_jid, &message.msg_id, message.ts, &record.info))
}

fn media_name(chat_jid: &str, msg_id: &str, ts: i64, info: &MediaInfo) -> PathBuf {
    let date = whatsapp_rust::chrono::DateTime::from_timestamp_millis(ts)
        .map_or_else(|| "undated".to_owned(), |d| d.format("%Y-%m-%d").to_string());
    let stem = info
        .file_name
        .as_deref()
        .and_then(|n| Path::new(n).file_stem())
        .and_then(|s| s.to_str())
        .map(|s| safe(s, 60))
        .filter(|s| !s.is_empty());
    let ext = extension(info.mime.as_deref(), info.file_name.as_deref());
    let name = match stem {
        Some(stem) => format!("{date}_{}_{stem}.{ext}", safe(msg_id, 40)),
        None => format!("{date}_{}.{ext}", safe(msg_id, 40)),
    };
    Path::new(&safe(chat_jid, 80)).join(name)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Write `data` to `path` through a temporary file in the same folder, so a
/// crash never leaves half a file under the final name. User-only permissions.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let tmp = dir.join(format!(
        ".{}.part",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("download")
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

impl Engine {
    /// Download a message's media (or return the copy already saved).
    // One download's steps in order (saved copy, fetch, retry, re-upload, verify, write); split next (issue 18 follow-up).
    #[allow(clippy::too_many_lines)]
    pub async fn download_media(&self, key: &MessageKey) -> Result<SavedMedia> {
        let store = &self.inner.store;
        let message = store.get_message(key).await?.ok_or_else(|| EngineError::NotFound {
            what: format!("The message {}", key.msg_id),
        })?;
        let mut record = store.media(key).await?.ok_or(EngineError::NoMedia)?;
        let expected = record.info.file_sha256.clone();

        // Already here and intact: nothing to fetch.
        if let Some(local) = record.local_path.as_deref() {
            let path = PathBuf::from(local);
            if let Ok(data) = tokio::fs::read(&path).await
                && expected.as_ref().is_none_or(|h| *h == sha256(&data))
            {
                return Ok(SavedMedia {
                    path,
                    mime: record.info.mime.clone(),
                    bytes: data.len() as u64,
                    reuploaded: false,
                });
            }
        }

        let limit = self.inner.options.max_media_bytes;
        let length = record.info.file_length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        if length > limit {
            return Err(EngineError::TooLarge {
                size_mb: length.div_ceil(1024 * 1024),
                limit_mb: limit / (1024 * 1024),
            });
        }
        let Some(mut direct_path) = record.info.direct_path.clone() else {
            return Err(EngineError::InvalidInput(
                "WhatsApp did not give this file a download address; it cannot be downloaded.".into(),
            ));
        };
        self.check_media_path(key, &direct_path).await?;

        let mut backoff = self.backoff(0);
        let mut reuploaded = false;
        let mut damaged = 0;
        let mut attempt = 0;
        let data = loop {
            attempt += 1;
            let params = DownloadParams {
                direct_path: direct_path.clone(),
                media_key: record.info.media_key.clone(),
                file_sha256: expected.clone().unwrap_or_default(),
                file_enc_sha256: record.info.file_enc_sha256.clone(),
                file_length: length,
                media_type: media_type(message.kind),
            };
            match self.inner.port.download(&params).await {
                Ok(data) if expected.as_ref().is_none_or(|h| *h == sha256(&data)) => break data,
                Ok(_) => {
                    damaged += 1;
                    if damaged >= 2 {
                        self.note_failure(key, &EngineError::Damaged).await;
                        return Err(EngineError::Damaged);
                    }
                }
                Err(PortError::MediaExpired) if !reuploaded => {
                    let request = ReuploadRequest {
                        msg_id: message.msg_id.clone(),
                        chat_jid: message.chat_jid.clone(),
                        media_key: record.info.media_key.clone().unwrap_or_default(),
                        from_me: message.from_me,
                        participant: (wa_store::jid::is_group(&message.chat_jid) && !message.from_me)
                            .then(|| message.sender_jid.clone()),
                    };
                    tracing::info!(msg = %message.msg_id, "media expired; asking the phone to upload it again");
                    match self.inner.port.reupload(&request).await {
                        Ok(new_path) => {
                            self.check_media_path(key, &new_path).await?;
                            reuploaded = true;
                            store
                                .record_media_download(
                                    key,
                                    Err("expired; the phone uploaded it again"),
                                    Some(&new_path),
                                )
                                .await?;
                            direct_path = new_path;
                            record.info.direct_path = Some(direct_path.clone());
                        }
                        Err(e) => {
                            let e = EngineError::from(e);
                            self.note_failure(key, &e).await;
                            return Err(e);
                        }
                    }
                }
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff.delay(attempt)).await;
                }
                Err(e) => {
                    let e = if e.is_transient() {
                        EngineError::GaveUp(e)
                    } else {
                        EngineError::from(e)
                    };
                    self.note_failure(key, &e).await;
                    return Err(e);
                }
            }
        };

        let media_dir = self.inner.options.data_dir.join("media");
        let path = file_path(&media_dir, &message, &record);
        let bytes = data.len() as u64;
        let to_write = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&to_write, &data))
            .await
            .map_err(|e| EngineError::File {
                path: path.clone(),
                detail: e.to_string(),
            })?
            .map_err(|e| EngineError::File {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        let shown = path.to_string_lossy().into_owned();
        store.record_media_download(key, Ok(&shown), None).await?;
        Ok(SavedMedia {
            path,
            mime: record.info.mime,
            bytes,
            reuploaded,
        })
    }

    /// Refuse a download address that is not a path on WhatsApp's media
    /// servers, before any request (see [`media_server_path`]).
    async fn check_media_path(&self, key: &MessageKey, direct_path: &str) -> Result<()> {
        if media_server_path(direct_path) {
            return Ok(());
        }
        // Not the address itself: it is a stranger's text.
        tracing::warn!(msg = %key.msg_id, "a message's download address is not on WhatsApp's media servers; refused");
        let e = EngineError::InvalidInput(
            "This file's download address does not point at WhatsApp's media servers (the message may have \
             been made to send your connection elsewhere), so nothing was downloaded. The message itself is kept."
                .into(),
        );
        self.note_failure(key, &e).await;
        Err(e)
    }

    async fn note_failure(&self, key: &MessageKey, error: &EngineError) {
        let text = error.to_string();
        if let Err(e) = self.inner.store.record_media_download(key, Err(&text), None).await {
            tracing::warn!(error = %e, "could not record a failed download");
        }
    }
}

#[cfg(test)]
mod tests;
