//! The simulated server's files: deterministic bytes for each media message,
//! with the hashes and length the message must then carry.

use sha2::{Digest, Sha256};
use wa_store::MediaInfo;

/// A stable number from a message id (FNV-1a), so the same message always gets
/// the same file and the same fate.
fn stable_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn digest(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// The file of message `msg_id`: 256 bytes to 8 KiB, the same on every call.
pub fn file_for(msg_id: &str) -> Vec<u8> {
    let hash = stable_hash(msg_id);
    let len = 256 + usize::try_from(hash % 8_000).unwrap_or(0);
    let mut rng = fastrand::Rng::with_seed(hash);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Make `info` describe the file the server holds for `msg_id` (length and
/// hash), and return that file.
pub fn prepare(msg_id: &str, info: &mut MediaInfo) -> Vec<u8> {
    let data = file_for(msg_id);
    info.file_sha256 = Some(digest(&data));
    info.file_length = i64::try_from(data.len()).ok();
    data
}

/// About one media file in four has been on the server longer than WhatsApp
/// keeps files: its link has expired and only the phone can upload it again.
pub fn starts_expired(msg_id: &str) -> bool {
    stable_hash(msg_id).is_multiple_of(4)
}
