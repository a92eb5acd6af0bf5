//! Files attached to a unit's report: the signed and stamped scan, minutes, decisions.
//! The bytes go to an object store behind the `object_store` crate (a local directory
//! by default, S3 when configured, memory in tests) under a key made of ids, never of
//! the file's name; the metadata goes to PostgreSQL in the transaction that acknowledges
//! the upload, after the bytes are stored. A file whose row never committed (a crash, a
//! refused transaction) is an orphan: [`sweep_orphans`] removes it, periodically in
//! `serve`. Types are decided from the bytes ([`Sniffer`]), not from what the client
//! claims. Submitting the report freezes its attachments with the revision
//! ([`store::freeze`]); a frozen attachment is never deleted.

pub mod model;
pub mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::config::{AttachmentStore, FileSettings};
use crate::error::{ApiError, ApiResult};

/// The object store attachments are kept in.
pub type Storage = Arc<dyn ObjectStore>;

/// Every attachment's key starts with this.
pub const PREFIX: &str = "attachments";

/// The store the settings name. A local directory is created when missing.
pub fn storage(settings: &FileSettings) -> anyhow::Result<Storage> {
    let store: Storage = match &settings.store {
        AttachmentStore::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("creating the attachment directory {}: {e}", dir.display())
            })?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?)
        }
        AttachmentStore::Memory => Arc::new(object_store::memory::InMemory::new()),
        AttachmentStore::S3(s3) => {
            // object_store's HTTP client is built without a default TLS backend; ring is
            // the one the rest of the crate uses. Installing twice is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(&s3.bucket)
                .with_region(&s3.region)
                .with_allow_http(s3.allow_http);
            if let Some(e) = &s3.endpoint {
                b = b.with_endpoint(e);
            }
            if let (Some(k), Some(s)) = (&s3.access_key_id, &s3.secret_access_key) {
                b = b.with_access_key_id(k).with_secret_access_key(s);
            }
            Arc::new(b.build()?)
        }
    };
    Ok(store)
}

pub(crate) fn storage_error(e: object_store::Error) -> ApiError {
    ApiError::internal(anyhow::anyhow!("attachment storage: {e}"))
}

/// The object key of an attachment: ids only.
pub fn key(report_id: uuid::Uuid, id: uuid::Uuid) -> String {
    format!("{PREFIX}/{report_id}/{id}")
}

/// The types an attachment may have, decided from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
    Docx,
    Xlsx,
}

impl FileType {
    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileType::Xlsx => crate::sheets::XLSX,
        }
    }
}

/// Decides a file's type from its bytes as they stream past: the magic numbers of PDF,
/// JPEG and PNG at the start; for a ZIP, which of DOCX and XLSX its entries make it
/// (their names stand uncompressed in the local headers).
#[derive(Default)]
pub struct Sniffer {
    head: Vec<u8>,
    tail: Vec<u8>,
    word: bool,
    xl: bool,
}

const HEAD: usize = 8;
const WORD_PART: &[u8] = b"word/document.xml";
const XL_PART: &[u8] = b"xl/workbook.xml";

impl Sniffer {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.head.len() < HEAD {
            let n = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        if self.is_zip() != Some(false) {
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(chunk);
            self.word |= contains(&window, WORD_PART);
            self.xl |= contains(&window, XL_PART);
            let keep = window.len().saturating_sub(32);
            self.tail = window.split_off(keep);
        }
    }

    /// `Some(false)` once the start is known not to be a ZIP.
    fn is_zip(&self) -> Option<bool> {
        if self.head.len() < 4 {
            return None;
        }
        Some(self.head.starts_with(b"PK\x03\x04"))
    }

    /// Whether the start already rules out every accepted type.
    pub fn refused_early(&self) -> bool {
        self.head.len() >= HEAD && self.start_type().is_none() && self.is_zip() == Some(false)
    }

    fn start_type(&self) -> Option<FileType> {
        let h = &self.head;
        if h.starts_with(b"%PDF-") {
            Some(FileType::Pdf)
        } else if h.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileType::Jpeg)
        } else if h.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileType::Png)
        } else {
            None
        }
    }

    /// The type, once every byte has been fed.
    pub fn verdict(&self) -> Option<FileType> {
        match (self.start_type(), self.is_zip()) {
            (Some(t), _) => Some(t),
            (None, Some(true)) if self.word && !self.xl => Some(FileType::Docx),
            (None, Some(true)) if self.xl && !self.word => Some(FileType::Xlsx),
            _ => None,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The name a file is listed and downloaded under: the last part of what the client
/// sent (never a path), without control characters, at most 255 characters.
pub fn clean_name(raw: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = last
        .nfc()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(255)
        .collect();
    (!name.trim().is_empty()).then(|| name.trim().to_string())
}

/// `Content-Disposition: attachment` with the name as RFC 6266 says: an ASCII
/// `filename` for old clients and the exact UTF-8 name in `filename*` (RFC 8187).
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Removes stored files that have no attachment row and are older than `grace` (an
/// upload whose transaction never committed, a row deleted before its file). Returns
/// how many were removed.
pub async fn sweep_orphans(
    conn: &mut AsyncPgConnection,
    storage: &dyn ObjectStore,
    grace: Duration,
) -> ApiResult<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let prefix = Path::from(PREFIX);
    let mut old: Vec<String> = Vec::new();
    let mut listing = storage.list(Some(&prefix));
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(storage_error)?;
        if meta.last_modified < cutoff {
            old.push(meta.location.to_string());
        }
    }
    let mut removed = 0;
    for batch in old.chunks(500) {
        let known = store::existing_keys(conn, batch).await?;
        for k in batch.iter().filter(|k| !known.contains(*k)) {
            match storage.delete(&Path::from(k.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(e) => tracing::warn!(key = %k, error = %e, "removing an orphan file failed"),
            }
        }
    }
    Ok(removed)
}

/// The periodic sweep of `serve`.
pub fn spawn_sweeper(state: actix_web::web::Data<crate::AppState>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(state.settings.files.sweep_every);
        loop {
            every.tick().await;
            let Ok(mut conn) = crate::db::conn(&state.pool).await else {
                continue;
            };
            match sweep_orphans(
                &mut conn,
                state.attachments.as_ref(),
                state.settings.files.orphan_grace,
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "orphan attachment files removed"),
                Err(e) => tracing::warn!(error = %e, "sweeping orphan attachment files failed"),
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn sniff(parts: &[&[u8]]) -> Option<FileType> {
        let mut s = Sniffer::default();
        for p in parts {
            s.feed(p);
        }
        s.verdict()
    }

    #[test]
    fn types_are_told_by_their_bytes() {
        assert_eq!(sniff(&[b"%PDF-1.7\n..."]), Some(FileType::Pdf));
        assert_eq!(
            sniff(&[&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']]),
            Some(FileType::Jpeg)
        );
        assert_eq!(sniff(&[b"\x89PNG\r\n\x1a\n\0\0"]), Some(FileType::Png));
        // The part name split over two chunks is still found.
        assert_eq!(
            sniff(&[
                b"PK\x03\x04....[Content_Types].xml...PK\x03\x04..word/docu",
                b"ment.xml..."
            ]),
            Some(FileType::Docx)
        );
        assert_eq!(
            sniff(&[b"PK\x03\x04....xl/workbook.xml"]),
            Some(FileType::Xlsx)
        );
        assert_eq!(sniff(&[b"PK\x03\x04 a plain zip"]), None);
        assert_eq!(sniff(&[b"<html><script>"]), None);
        let mut s = Sniffer::default();
        s.feed(b"MZ\x90\0\x03\0\0\0");
        assert!(s.refused_early());
    }

    #[test]
    fn names_are_never_paths() {
        assert_eq!(clean_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            clean_name("C:\\Users\\x\\Biên bản.pdf").as_deref(),
            Some("Biên bản.pdf")
        );
        assert_eq!(clean_name("..").as_deref(), None);
        assert_eq!(clean_name("a\u{0}b\n.pdf").as_deref(), Some("ab.pdf"));
        assert_eq!(clean_name("   ").as_deref(), None);
    }

    #[test]
    fn an_s3_store_is_built_from_the_settings() {
        let settings = |store| FileSettings {
            workbook_limit: 1024,
            attachment_limit: 1024,
            store,
            orphan_grace: Duration::from_secs(60),
            sweep_every: Duration::from_secs(60),
        };
        let s3 = crate::config::S3Settings {
            bucket: "gereport-attachments".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: "ap-southeast-1".into(),
            access_key_id: Some("minio".into()),
            secret_access_key: Some("minio-secret".into()),
            allow_http: true,
        };
        let store = storage(&settings(AttachmentStore::S3(s3))).unwrap();
        assert!(
            store.to_string().contains("gereport-attachments"),
            "{store}"
        );
        assert!(storage(&settings(AttachmentStore::Memory)).is_ok());
    }

    #[test]
    fn content_disposition_carries_the_utf8_name() {
        assert_eq!(
            content_disposition("Biên bản họp.pdf"),
            "attachment; filename=\"Bi_n b_n h_p.pdf\"; filename*=UTF-8''Bi%C3%AAn%20b%E1%BA%A3n%20h%E1%BB%8Dp.pdf"
        );
    }
}
