//! Request and response types of attachments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What an attached file is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// The report as signed and stamped (bản báo cáo có chữ ký, đóng dấu).
    SignedReport,
    /// Minutes of a meeting (biên bản).
    Minutes,
    /// A decision (quyết định).
    Decision,
    Other,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::SignedReport => "signed_report",
            AttachmentKind::Minutes => "minutes",
            AttachmentKind::Decision => "decision",
            AttachmentKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "signed_report" => AttachmentKind::SignedReport,
            "minutes" => AttachmentKind::Minutes,
            "decision" => AttachmentKind::Decision,
            _ => AttachmentKind::Other,
        }
    }
}

/// The query of an upload: what the file is and its original name.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    pub kind: AttachmentKind,
    /// The file's original name (e.g. `Báo cáo có chữ ký.pdf`), kept for listing and
    /// download; only its last path segment is kept, and it never names a stored file.
    #[param(min_length = 1, max_length = 1024)]
    pub filename: String,
    /// The code of a plan task (e.g. `III.1.3`) when the file is evidence of the unit's
    /// progress on that task rather than of the report as a whole: a task the unit
    /// leads or helps with and that is reported on in this period.
    #[param(min_length = 1, max_length = 40)]
    pub task: Option<String>,
}

/// The filters of a report's attachments.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the files attached to this task's progress (its code).
    pub task: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A file attached to a report.
#[derive(Serialize, Deserialize, Clone, Debug, ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub report_id: Uuid,
    /// The plan task whose progress the file documents (its code); `null` for a file
    /// of the report as a whole.
    pub task: Option<String>,
    pub kind: AttachmentKind,
    pub file_name: String,
    /// Decided from the bytes: PDF, JPEG, PNG, DOCX or XLSX.
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The revision the file was frozen with when the report was submitted; `null`
    /// while the report is a draft (and the file may still be removed).
    pub revision: Option<i32>,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
    /// Where to download it.
    pub href: String,
}
