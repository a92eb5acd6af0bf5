//! Start-up data: the first admin, and the demo department for newcomers.
//!
//! The demo is the Department of Culture and Sports of a city with its offices and
//! subordinate units. The unit names are illustrative (real-looking, not an official
//! list). Loading is idempotent: what exists is left alone.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::audit::{self, By, Event};
use crate::auth::password;
use crate::auth::policy::Role;
use crate::error::{ApiError, ApiResult};
use crate::org::model::UnitKind;
use crate::org::store as org_store;
use crate::users::store as user_store;

pub const DEFAULT_DEMO_PASSWORD: &str = "demo-password-2024";
pub const ROOT_CODE: &str = "SVHTT";

/// The demo tree: (code, Vietnamese name, kind). All are children of the root.
pub const DEMO_UNITS: &[(&str, &str, UnitKind)] = &[
    ("VP", "Văn phòng Sở", UnitKind::Office),
    ("TCPC", "Phòng Tổ chức - Pháp chế", UnitKind::Office),
    ("KHTC", "Phòng Kế hoạch - Tài chính", UnitKind::Office),
    (
        "XDNS",
        "Phòng Xây dựng nếp sống văn hóa và Gia đình",
        UnitKind::Office,
    ),
    ("QLVH", "Phòng Quản lý văn hóa", UnitKind::Office),
    ("QLDSVH", "Phòng Quản lý di sản văn hóa", UnitKind::Office),
    ("QLTDTT", "Phòng Quản lý thể dục thể thao", UnitKind::Office),
    ("TTRA", "Thanh tra Sở", UnitKind::Office),
    (
        "TTVHHN",
        "Trung tâm Văn hóa Hà Nội",
        UnitKind::SubordinateUnit,
    ),
    ("TVHN", "Thư viện Hà Nội", UnitKind::SubordinateUnit),
    ("BTHN", "Bảo tàng Hà Nội", UnitKind::SubordinateUnit),
    (
        "BQLDTL",
        "Ban Quản lý Di tích và Danh thắng",
        UnitKind::SubordinateUnit,
    ),
    (
        "TTBTDT",
        "Trung tâm Bảo tồn Di sản Thăng Long",
        UnitKind::SubordinateUnit,
    ),
    (
        "TTHLTDTT",
        "Trung tâm Huấn luyện và Thi đấu thể dục thể thao",
        UnitKind::SubordinateUnit,
    ),
    (
        "TTTDTT",
        "Trung tâm Thể dục thể thao",
        UnitKind::SubordinateUnit,
    ),
    ("CLBBD", "Câu lạc bộ Bóng đá", UnitKind::SubordinateUnit),
    ("NHTT", "Nhà hát Tuồng", UnitKind::SubordinateUnit),
    ("NHCHEO", "Nhà hát Chèo", UnitKind::SubordinateUnit),
    ("NHCL", "Nhà hát Cải lương", UnitKind::SubordinateUnit),
    (
        "NHMR",
        "Nhà hát Múa rối Thăng Long",
        UnitKind::SubordinateUnit,
    ),
    (
        "DCHN",
        "Đoàn Ca múa nhạc Thăng Long",
        UnitKind::SubordinateUnit,
    ),
    (
        "TTPHIM",
        "Trung tâm Phát hành phim và Chiếu bóng",
        UnitKind::SubordinateUnit,
    ),
    (
        "TTTT",
        "Trung tâm Tuyên truyền lưu động",
        UnitKind::SubordinateUnit,
    ),
    (
        "TVHTT",
        "Trường Trung cấp Văn hóa Nghệ thuật",
        UnitKind::SubordinateUnit,
    ),
    (
        "TNK",
        "Trường Năng khiếu thể dục thể thao",
        UnitKind::SubordinateUnit,
    ),
];

async fn ensure_unit(
    conn: &mut AsyncPgConnection,
    by: &By,
    code: &str,
    name: &str,
    kind: UnitKind,
    parent: Option<&org_store::Row>,
) -> ApiResult<org_store::Row> {
    if let Some(row) = org_store::find(conn, code).await? {
        return Ok(row);
    }
    let row = org_store::insert(conn, code, name, kind, parent).await?;
    audit::append(
        conn,
        by,
        Event {
            action: "org_unit.create",
            object_type: "org_unit",
            object_id: row.id.to_string(),
            unit_id: Some(row.id),
            change: serde_json::json!({ "after": row.to_api(), "source": "demo" }),
        },
    )
    .await?;
    Ok(row)
}

/// Creates a user unless the username exists; returns whether it was created.
pub async fn ensure_user(
    conn: &mut AsyncPgConnection,
    by: &By,
    username: &str,
    display_name: &str,
    role: Role,
    unit: &org_store::Row,
    password_hash: &str,
) -> ApiResult<bool> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let exists: i64 = crate::schema::users::table
        .filter(crate::schema::users::username.eq(username))
        .count()
        .get_result(conn)
        .await?;
    if exists > 0 {
        return Ok(false);
    }
    let id = user_store::insert(
        conn,
        user_store::NewUserRow {
            username,
            display_name,
            email: None,
            role,
            unit_id: unit.id,
            password_hash,
        },
    )
    .await?;
    audit::append(
        conn,
        by,
        Event {
            action: "user.create",
            object_type: "user",
            object_id: id.to_string(),
            unit_id: Some(unit.id),
            change: serde_json::json!({ "username": username, "role": role.as_str() }),
        },
    )
    .await?;
    Ok(true)
}

/// `gereport create-admin`: an admin scoped to the root unit (created if no unit exists).
pub async fn create_admin(
    conn: &mut AsyncPgConnection,
    username: &str,
    plain_password: String,
) -> ApiResult<bool> {
    crate::users::model::check_username("username", username)?;
    password::check_strength("password", &plain_password)?;
    let hash = password::hash(plain_password).await?;
    let by = By::system("create-admin");
    conn.transaction::<_, ApiError, _>(async |conn| {
        let root = ensure_unit(
            conn,
            &by,
            ROOT_CODE,
            "Sở Văn hóa và Thể thao",
            UnitKind::Department,
            None,
        )
        .await?;
        ensure_user(conn, &by, username, username, Role::Admin, &root, &hash).await
    })
    .await
}

/// Summary of what `load` did.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub units: usize,
    pub users_created: usize,
}

/// `gereport demo`: the demo department, its users, and (from the workflow on) its plan.
pub async fn load(conn: &mut AsyncPgConnection, demo_password: &str) -> ApiResult<DemoSummary> {
    password::check_strength("GEREPORT_DEMO_PASSWORD", demo_password)?;
    // One hash for every demo account keeps loading fast; each is still argon2id.
    let hash = password::hash(demo_password.to_string()).await?;
    let by = By::system("demo");
    conn.transaction::<_, ApiError, _>(async |conn| {
        let mut summary = DemoSummary::default();
        let root = ensure_unit(
            conn,
            &by,
            ROOT_CODE,
            "Sở Văn hóa và Thể thao",
            UnitKind::Department,
            None,
        )
        .await?;
        summary.units += 1;
        let mut units = Vec::new();
        for (code, name, kind) in DEMO_UNITS {
            units.push(ensure_unit(conn, &by, code, name, *kind, Some(&root)).await?);
            summary.units += 1;
        }
        let people: [(&str, &str, Role); 3] = [
            ("admin", "Quản trị hệ thống", Role::Admin),
            (
                "coordinator",
                "Phòng Xây dựng nếp sống văn hóa và Gia đình",
                Role::Coordinator,
            ),
            ("director", "Ban Giám đốc Sở", Role::Viewer),
        ];
        for (username, display, role) in people {
            summary.users_created +=
                usize::from(ensure_user(conn, &by, username, display, role, &root, &hash).await?);
        }
        for unit in &units {
            let username = unit.code.to_lowercase();
            let display = format!("Cán bộ đầu mối - {}", unit.name);
            summary.users_created += usize::from(
                ensure_user(conn, &by, &username, &display, Role::Reporter, unit, &hash).await?,
            );
        }
        Ok(summary)
    })
    .await
}
