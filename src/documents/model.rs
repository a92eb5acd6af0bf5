//! Document settings as the API shows and takes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::compile::model::UnitRef;

/// What a unit's documents (its compiled report, its own report) print in their
/// heading and signature block, as Decree 30/2020/NĐ-CP lays them out.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DocumentSettings {
    /// The issuing unit these settings are for.
    pub unit: UnitRef,
    /// The body the issuing one answers to, first line of the heading (cơ quan chủ
    /// quản), e.g. `UBND THÀNH PHỐ HÀ NỘI`; may be empty. Default: the parent unit's
    /// name, or `UBND THÀNH PHỐ HÀ NỘI` for a unit at the top of the tree.
    pub superior_body: String,
    /// The issuing body's name (cơ quan ban hành), e.g. `SỞ VĂN HÓA VÀ THỂ THAO`.
    /// Default: the unit's name.
    pub issuing_body: String,
    /// The issuing body's abbreviation in the number line (`Số: …/BC-SVHTT`).
    /// Default: the unit's code.
    pub abbreviation: String,
    /// The place before the date (`Hà Nội, ngày … tháng … năm …`). Default `Hà Nội`.
    pub place: String,
    /// The signer's authority line, e.g. `KT. GIÁM ĐỐC` when a deputy signs for the
    /// head; empty when the head signs. Default: `KT. GIÁM ĐỐC` for a department.
    pub signer_authority: String,
    /// The signer's position, e.g. `PHÓ GIÁM ĐỐC`. Default by the unit's kind:
    /// `PHÓ GIÁM ĐỐC` (department), `TRƯỞNG PHÒNG` (office), `GIÁM ĐỐC` (other units).
    pub signer_title: String,
    /// The signer's full name, printed under the space for the signature and seal;
    /// empty leaves the line for the office to write.
    pub signer_name: String,
    /// "Nơi nhận", in order, without the archive line. Default: the superior body.
    pub recipients: Vec<String>,
    /// The drafting unit's abbreviation for the archive line (`Lưu: VT, VP.`); empty
    /// prints `Lưu: VT.`.
    pub drafting_unit: String,
    /// Whether these are the defaults (nothing stored for the unit).
    pub is_default: bool,
    #[schema(required = true)]
    pub updated_by: Option<String>,
    #[schema(required = true)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The settings of a unit, replaced whole.
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PutDocumentSettings {
    #[schema(max_length = 200)]
    pub superior_body: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub issuing_body: String,
    /// One word, no slash: it follows `BC-` in the number line.
    #[schema(min_length = 1, max_length = 40, pattern = r"^[^\s/]+$")]
    pub abbreviation: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub place: String,
    #[schema(max_length = 100)]
    pub signer_authority: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub signer_title: String,
    #[schema(max_length = 100)]
    pub signer_name: String,
    /// At most 20, each 1 to 200 characters (not only spaces).
    #[schema(max_items = 20, inline, value_type = Vec<Recipient>)]
    pub recipients: Vec<String>,
    /// One word, no slash (`XDNS`), or empty.
    #[schema(max_length = 40, pattern = r"^[^\s/]*$")]
    pub drafting_unit: String,
}

/// One recipient of a document ("Nơi nhận").
#[derive(ToSchema)]
#[schema(min_length = 1, max_length = 200, pattern = r"\S")]
#[allow(dead_code)]
pub struct Recipient(String);
