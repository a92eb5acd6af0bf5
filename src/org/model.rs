//! Organisation unit types of the API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Department,
    Office,
    SubordinateUnit,
    Other,
}

impl UnitKind {
    pub const ALL: [UnitKind; 4] = [
        UnitKind::Department,
        UnitKind::Office,
        UnitKind::SubordinateUnit,
        UnitKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Office => "office",
            UnitKind::SubordinateUnit => "subordinate_unit",
            UnitKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct OrgUnit {
    pub id: Uuid,
    /// Stable code; scripts address units by it.
    pub code: String,
    /// Vietnamese name, NFC-normalised.
    pub name: String,
    pub kind: UnitKind,
    pub parent_id: Option<Uuid>,
    /// 0 for a root.
    pub depth: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgUnit {
    /// Letters, digits, `_`, `.`, `-`; at most 64; unique regardless of case.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub name: String,
    pub kind: UnitKind,
    /// The parent's id or code; omit for a new root.
    #[schema(min_length = 1)]
    pub parent: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgUnit {
    /// Rename.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    pub name: Option<String>,
    pub kind: Option<UnitKind>,
    /// Move under another unit (id or code); a move under its own subtree is refused (409).
    #[schema(min_length = 1)]
    pub parent: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgUnitQuery {
    /// Only the direct children of this unit (id or code).
    pub parent: Option<String>,
    pub kind: Option<UnitKind>,
    pub active: Option<bool>,
    /// Case-insensitive substring of the name or code.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubtreeQuery {
    /// Include deactivated units (default: true, history stays readable).
    pub include_inactive: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// NFC-normalises and trims a display name, refusing empty or overlong ones.
pub fn clean_name(field: &str, raw: &str) -> ApiResult<String> {
    let name: String = raw.trim().nfc().collect();
    let n = name.chars().count();
    if n == 0 || n > 300 {
        return Err(ApiError::invalid_field(
            field,
            "invalid_length",
            "must be 1 to 300 characters",
        ));
    }
    Ok(name)
}

pub fn check_code(field: &str, code: &str) -> ApiResult<()> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        return Err(ApiError::invalid_field(
            field,
            "invalid_code",
            "use 1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or digit",
        ));
    }
    // Addresses take a unit's id or its code, an id first: a code that reads as an id
    // could never be used.
    if Uuid::parse_str(code).is_ok() {
        return Err(ApiError::invalid_field(
            field,
            "invalid_code",
            "a code must not have the form of a unit id (a UUID)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_nfc_normalised() {
        // "Phòng" with a combining grave accent (NFD) becomes the precomposed form.
        let nfd = "Pho\u{300}ng Văn hóa";
        let clean = clean_name("name", nfd).unwrap_or_default();
        assert_eq!(clean, "Phòng Văn hóa");
        assert!(clean_name("name", "   ").is_err());
    }

    #[test]
    fn codes_are_plain() {
        assert!(check_code("code", "SVHTT-01").is_ok());
        assert!(check_code("code", "-x").is_err());
        assert!(check_code("code", "có dấu").is_err());
        assert!(check_code("code", "0196a1e2-7b3c-7d4e-8f5a-6b7c8d9e0f1a").is_err());
        assert!(check_code("code", "0196a1e27b3c7d4e8f5a6b7c8d9e0f1a").is_err());
        assert!(check_code("code", "0196a1e2-7b3c").is_ok());
    }
}
