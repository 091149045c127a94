//! A file to send, copied when the request is made: what leaves is what the
//! person was shown (name, type, size, hash, and a picture of an image),
//! whatever happens to the file while they decide.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The largest file an assistant may send (WhatsApp's documents go further;
/// an assistant's file rarely should).
const MAX_STAGED_BYTES: u64 = 100 * 1024 * 1024;

/// A copy of a file to send, taken when the request was made, under the
/// data folder; removed when dropped (sent, refused or failed).
pub(in crate::server) struct Staged {
    folder: PathBuf,
    path: PathBuf,
    /// What the dialog says of it: name, type, size and hash.
    pub(in crate::server) described: String,
    /// A small picture of it, when it is an image (a PNG data URL).
    pub(in crate::server) preview: Option<String>,
}

impl Staged {
    /// Copy `real` (a path inside an allowed folder, links resolved) into a
    /// new folder under `staging`, refusing what is not a plain file of its
    /// own: a special file, or a file with other names (a hard link made in
    /// the outbox to a file elsewhere passes any folder check).
    pub(super) async fn copy(real: &Path, staging: &Path) -> Result<Self, String> {
        let name = real
            .file_name()
            .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
        let cannot = |e: std::io::Error| format!("The file {} cannot be read: {e}.", real.display());
        let mut file = tokio::fs::File::open(real).await.map_err(cannot)?;
        let meta = file.metadata().await.map_err(cannot)?;
        let on_path = tokio::fs::symlink_metadata(real).await.map_err(cannot)?;
        if !meta.is_file() || !on_path.is_file() {
            return Err(format!("{} is not a plain file, so it cannot be sent.", real.display()));
        }
        let hard_link = || {
            format!(
                "{} has other names elsewhere on this computer (a hard link), so it cannot be sent from the \
                 outbox. Copy the file into the outbox instead.",
                real.display()
            )
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() > 1 {
                return Err(hard_link());
            }
            if (meta.dev(), meta.ino()) != (on_path.dev(), on_path.ino()) {
                return Err(format!(
                    "{} changed while it was being read; try again.",
                    real.display()
                ));
            }
        }
        // Windows: the open file's link count (std has it only on nightly).
        // The path was resolved to a plain file above, so the handle is its.
        #[cfg(windows)]
        {
            let handle = file.try_clone().await.map_err(cannot)?.into_std().await;
            let info = winapi_util::file::information(&handle).map_err(cannot)?;
            if info.number_of_links() > 1 {
                return Err(hard_link());
            }
        }
        if meta.len() > MAX_STAGED_BYTES {
            return Err(format!(
                "{} is {} MB; assistants may send files up to {} MB.",
                real.display(),
                meta.len().div_ceil(1024 * 1024),
                MAX_STAGED_BYTES / (1024 * 1024)
            ));
        }
        let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        {
            use tokio::io::AsyncReadExt;
            (&mut file)
                .take(MAX_STAGED_BYTES + 1)
                .read_to_end(&mut data)
                .await
                .map_err(cannot)?;
        }
        let folder = staging.join(format!("{:016x}", rand::random::<u64>()));
        let path = folder.join(&name);
        let write = |e: std::io::Error| format!("The file could not be prepared for sending ({e}).");
        tokio::fs::create_dir_all(&folder).await.map_err(write)?;
        // The type the engine sends it as (by its name, as `wa_engine` does).
        let mime = mime_guess::from_path(&name)
            .first_or_octet_stream()
            .essence_str()
            .to_owned();
        let preview = if mime.starts_with("image/") {
            preview(data.clone()).await
        } else {
            None
        };
        let staged = Self {
            folder,
            path,
            described: format!(
                "{name} ({mime}, {}, sha256 {})",
                size_words(data.len() as u64),
                &sha256_hex(&data)[..16]
            ),
            preview,
        };
        tokio::fs::write(&staged.path, &data).await.map_err(write)?;
        Ok(staged)
    }

    pub(in crate::server) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.folder) {
            tracing::debug!(error = %e, "a staged file could not be removed");
        }
    }
}

/// The largest picture the dialog shows of an image to send, in pixels a side.
const PREVIEW_SIDE: u32 = 320;

/// A small PNG of the image `data`, as a data URL for the dialog; `None` when
/// it does not decode as an image (within sane limits on size).
async fn preview(data: Vec<u8>) -> Option<String> {
    use base64::Engine as _;
    let made = tokio::task::spawn_blocking(move || {
        let mut reader = image::ImageReader::new(std::io::Cursor::new(data))
            .with_guessed_format()
            .ok()?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(16_384);
        limits.max_image_height = Some(16_384);
        limits.max_alloc = Some(512 * 1024 * 1024);
        reader.limits(limits);
        let picture = reader.decode().ok()?.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE);
        let mut png = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .ok()?;
        Some(format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))
    })
    .await;
    match made {
        Ok(preview) => preview,
        Err(e) => {
            tracing::debug!(error = %e, "no preview of an image to send");
            None
        }
    }
}

pub(in crate::server) fn size_words(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

pub(super) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
}
