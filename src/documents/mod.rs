//! Document settings: what an issuing unit's documents print where Decree
//! 30/2020/NĐ-CP puts the issuing body, the number line, the place, the signer, the
//! recipients and the archive line. Kept as data per unit
//! (`/org-units/{unit}/document-settings`), with defaults derived from the tree so
//! that the compiled report of the Department and the report of any unit print a
//! correct heading before anyone sets anything: a unit answers to its parent, the top
//! of the tree to the city.

pub mod model;
pub mod routes;
pub mod store;
pub mod unit_report;

use diesel_async::AsyncPgConnection;

use crate::compile::unit_ref;
use crate::error::ApiResult;
use crate::org::model::UnitKind;
use crate::org::store::{self as org_store, Row as UnitRow};
use model::DocumentSettings;

/// The superior body of a unit at the top of the tree.
pub const CITY: &str = "UBND THÀNH PHỐ HÀ NỘI";
/// The place of the date line when none is set.
pub const PLACE: &str = "Hà Nội";

/// The settings a unit prints when it has stored none.
pub fn defaults(unit: &UnitRow, parent: Option<&UnitRow>) -> DocumentSettings {
    let kind = UnitKind::parse(&unit.kind);
    let (authority, title) = match kind {
        Some(UnitKind::Department) => ("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"),
        Some(UnitKind::Office) => ("", "TRƯỞNG PHÒNG"),
        _ => ("", "GIÁM ĐỐC"),
    };
    let superior = parent.map_or_else(|| CITY.to_string(), |p| upper(&p.name));
    let recipients = match parent {
        Some(p) => vec![p.name.clone()],
        None => vec!["UBND Thành phố".to_string()],
    };
    DocumentSettings {
        unit: unit_ref(unit),
        superior_body: superior,
        issuing_body: upper(&unit.name),
        abbreviation: unit.code.to_uppercase(),
        place: PLACE.to_string(),
        signer_authority: authority.to_string(),
        signer_title: title.to_string(),
        signer_name: String::new(),
        recipients,
        drafting_unit: String::new(),
        is_default: true,
        updated_by: None,
        updated_at: None,
    }
}

/// A name as a heading prints it: in capitals.
fn upper(name: &str) -> String {
    name.trim().to_uppercase()
}

pub fn from_row(unit: &UnitRow, r: store::Row) -> DocumentSettings {
    DocumentSettings {
        unit: unit_ref(unit),
        superior_body: r.superior_body,
        issuing_body: r.issuing_body,
        abbreviation: r.abbreviation,
        place: r.place,
        signer_authority: r.signer_authority,
        signer_title: r.signer_title,
        signer_name: r.signer_name,
        recipients: r.recipients,
        drafting_unit: r.drafting_unit,
        is_default: false,
        updated_by: Some(r.updated_by),
        updated_at: Some(r.updated_at),
    }
}

/// The settings `unit` prints: the stored ones, or the defaults from the tree.
pub async fn for_unit(conn: &mut AsyncPgConnection, unit: &UnitRow) -> ApiResult<DocumentSettings> {
    if let Some(row) = store::get(conn, unit.id).await? {
        return Ok(from_row(unit, row));
    }
    let parent = match unit.parent_id {
        Some(id) => org_store::find_by_id(conn, id).await?,
        None => None,
    };
    Ok(defaults(unit, parent.as_ref()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn unit(code: &str, name: &str, kind: &str, parent: Option<&UnitRow>) -> UnitRow {
        UnitRow {
            id: uuid::Uuid::now_v7(),
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
            parent_id: parent.map(|p| p.id),
            path: String::new(),
            depth: 0,
            active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
        }
    }

    #[test]
    fn defaults_follow_the_tree() {
        let dept = unit("SVHTT", "Sở Văn hóa và Thể thao", "department", None);
        let d = defaults(&dept, None);
        assert_eq!(d.superior_body, CITY);
        assert_eq!(d.issuing_body, "SỞ VĂN HÓA VÀ THỂ THAO");
        assert_eq!(
            (d.signer_authority.as_str(), d.signer_title.as_str()),
            ("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")
        );
        let theatre = unit(
            "NHCHEO",
            "Nhà hát Chèo Hà Nội",
            "subordinate_unit",
            Some(&dept),
        );
        let t = defaults(&theatre, Some(&dept));
        assert_eq!(
            t.superior_body, "SỞ VĂN HÓA VÀ THỂ THAO",
            "a unit answers to its parent"
        );
        assert_eq!(t.abbreviation, "NHCHEO");
        assert_eq!(
            (t.signer_authority.as_str(), t.signer_title.as_str()),
            ("", "GIÁM ĐỐC")
        );
        assert_eq!(t.recipients, ["Sở Văn hóa và Thể thao"]);
        let office = unit("VP", "Văn phòng Sở", "office", Some(&dept));
        assert_eq!(defaults(&office, Some(&dept)).signer_title, "TRƯỞNG PHÒNG");
    }
}
