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
    if user_store::username_taken(conn, username).await? {
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
            unit_head: false,
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
    pub plan_created: bool,
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
        summary.plan_created = plan2024::load(conn, &by, &root, &units).await?;
        ensure_document_settings(conn, &root).await?;
        Ok(summary)
    })
    .await
}

/// The Department's document settings as its 2024 plan is signed: a deputy director
/// for the director, the city and the labour department among the recipients, the
/// coordinating office as drafting unit. Kept when already set.
async fn ensure_document_settings(
    conn: &mut AsyncPgConnection,
    root: &org_store::Row,
) -> ApiResult<()> {
    use crate::documents::store as settings;
    if settings::get(conn, root.id).await?.is_some() {
        return Ok(());
    }
    settings::put(
        conn,
        &settings::Row {
            unit_id: root.id,
            superior_body: crate::documents::CITY.into(),
            issuing_body: "SỞ VĂN HÓA VÀ THỂ THAO".into(),
            abbreviation: ROOT_CODE.into(),
            place: crate::documents::PLACE.into(),
            signer_authority: "KT. GIÁM ĐỐC".into(),
            signer_title: "PHÓ GIÁM ĐỐC".into(),
            signer_name: "Trần Thị Vân Anh".into(),
            recipients: vec![
                "UBND Thành phố".into(),
                "Sở Lao động TB&XH".into(),
                "Ban Giám đốc Sở".into(),
                "Các phòng, đơn vị thuộc Sở".into(),
            ],
            drafting_unit: "XDNS".into(),
            updated_by: "demo".into(),
            updated_at: chrono::Utc::now(),
        },
    )
    .await?;
    Ok(())
}

/// The 2024 plan of the seed: its form, three indicators, two periods, and reports in
/// every state, so a newcomer sees data at once. Skipped when the plan exists.
pub mod plan2024 {
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use diesel_async::AsyncPgConnection;
    use serde_json::{Value, json};

    use crate::audit::By;
    use crate::error::{ApiError, ApiResult};
    use crate::notifications::Note;
    use crate::notifications::model::ReminderSchedule;
    use crate::notifications::store as notification_store;
    use crate::org::store::Row as UnitRow;
    use crate::plans::form::{FormDefinition, ReportData, ValidationContext, default_form_2024};
    use crate::plans::indicator::Direction;
    use crate::plans::model::PlanStatus;
    use crate::plans::period::{PeriodKind, is_late};
    use crate::plans::store::{self as plan_store, IndicatorValues, NewPlanRow, PeriodValues};
    use crate::reports::store::{self as report_store, Submission};
    use crate::reports::workflow::ReportStatus;

    pub const DOCUMENT_NUMBER: &str = "/KH-SVHTT";

    const PAPER_NOTE: &str = "Nhận báo cáo bằng văn bản giấy, công văn ngày 22/11/2024 của đơn vị";

    /// A notification already sent to a unit's reporters.
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        conn: &mut AsyncPgConnection,
        unit: &UnitRow,
        period_id: uuid::Uuid,
        report_id: Option<uuid::Uuid>,
        kind: &'static str,
        title: String,
        body: String,
    ) -> ApiResult<()> {
        notification_store::to_reporters(
            conn,
            &[unit.id],
            &Note {
                kind,
                title,
                body,
                data: json!({ "unit_code": unit.code }),
                period_id: Some(period_id),
                report_id,
            },
        )
        .await?;
        Ok(())
    }

    fn date(y: i32, m: u32, d: u32) -> ApiResult<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad demo date")))
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> ApiResult<DateTime<Utc>> {
        // Office hours in Vietnam (UTC+7).
        Utc.with_ymd_and_hms(y, m, d, h.saturating_sub(7), 0, 0)
            .single()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("bad demo time")))
    }

    /// A small deterministic generator, so the demo looks the same on every machine.
    struct Dice(u64);

    impl Dice {
        fn new(seed: &str, salt: u64) -> Self {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
            for b in seed.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            Dice(h)
        }

        fn roll(&mut self, lo: i64, hi: i64) -> i64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let span = (hi - lo + 1).max(1) as u64;
            lo + ((self.0 >> 33) % span) as i64
        }
    }

    /// Realistic figures for one unit; `annual` doubles the training and activities.
    pub fn sample_data(unit: &UnitRow, annual: bool, window_start: NaiveDate) -> ReportData {
        let mut d = Dice::new(&unit.code, u64::from(annual));
        let staff = d.roll(12, 80);
        let staff_f = staff * d.roll(35, 70) / 100;
        let leaders = d.roll(2, 4);
        // About one unit in five has no woman among its leaders.
        let leaders_f = if d.roll(1, 5) == 1 {
            0
        } else {
            d.roll(1, leaders.min(staff_f).max(1))
        };
        let pool = d.roll(2, 8).min(staff);
        let pool_f = d.roll(0, pool).min(staff_f);
        let appointed = d.roll(0, 2).min(leaders);
        let appointed_f = d.roll(0, appointed);
        let scale = if annual { 2 } else { 1 };
        let pol = d.roll(0, 4) * scale;
        let pol_f = d.roll(0, pol);
        let prof = d.roll(1, 8) * scale;
        let prof_f = d.roll(0, prof);
        let members = d.roll(3, 7);
        let allocated = d.roll(10, 60) * 1_000_000;
        let spent = allocated * d.roll(40, 100) / 100;
        let kinds = [
            "conference",
            "seminar",
            "training_course",
            "thematic_talk",
            "event_march_8",
            "event_october_20",
            "direct_communication",
        ];
        let titles = [
            "Hội nghị quán triệt Luật Bình đẳng giới",
            "Tọa đàm về bình đẳng giới trong lĩnh vực chính trị",
            "Lớp tập huấn kỹ năng cho nữ cán bộ diện quy hoạch",
            "Nói chuyện chuyên đề phòng, chống bạo lực gia đình",
            "Gặp mặt cán bộ nữ nhân ngày Quốc tế phụ nữ 8/3",
            "Hoạt động kỷ niệm ngày Phụ nữ Việt Nam 20/10",
            "Truyền thông trực tiếp về bình đẳng giới tại đơn vị",
        ];
        let mut activities = Vec::new();
        for _ in 0..d.roll(1, 2 * scale) {
            let k = d.roll(0, kinds.len() as i64 - 1) as usize;
            let participants = d.roll(15, 120);
            let day = window_start + chrono::Duration::days(d.roll(10, 120));
            activities.push(json!({
                "type": kinds[k],
                "title": titles[k],
                "date": day.format("%Y-%m-%d").to_string(),
                "participants_total": participants,
                "participants_female": participants * d.roll(40, 80) / 100,
                "topics": ["law_gender_equality", "gender_equality_politics"],
                "cost_vnd": d.roll(0, 10) * 500_000,
            }));
        }
        let values = json!({
            "staff_total": staff, "staff_female": staff_f,
            "leaders_total": leaders, "leaders_female": leaders_f,
            "planning_pool_total": pool, "planning_pool_female": pool_f,
            "appointed_total": appointed, "appointed_female": appointed_f,
            "trained_political_total": pol, "trained_political_female": pol_f,
            "trained_professional_total": prof, "trained_professional_female": prof_f,
            "committee_in_place": true,
            "committee_members_total": members, "committee_members_female": d.roll(1, members),
            "committee_meetings": d.roll(1, 2 * scale), "committee_inspections": d.roll(0, scale),
            "budget_allocated_vnd": allocated, "budget_spent_vnd": spent,
            "culture_activities_integrated": d.roll(0, 6 * scale),
            "culture_integration_description": format!("{} lồng ghép nội dung bình đẳng giới trong các hoạt động văn hóa, thể thao của đơn vị.", unit.name),
            "narrative_results": format!("{} đã triển khai kế hoạch, tuyên truyền Luật Bình đẳng giới tới công chức, viên chức và người lao động.", unit.name),
            "narrative_difficulties": "Kinh phí dành cho công tác bình đẳng giới còn hạn chế; cán bộ làm công tác này kiêm nhiệm.",
            "narrative_harmful_issues": "Áp lực công việc và gia đình khiến nữ cán bộ ít tham gia các khóa đào tạo dài hạn.",
            "narrative_recommendations": "Đề nghị Sở tổ chức thêm lớp tập huấn kỹ năng lãnh đạo cho nữ cán bộ diện quy hoạch.",
        });
        let mut data = ReportData::default();
        if let Value::Object(map) = values {
            data.values = map;
        }
        let items = activities.into_iter().filter_map(|a| match a {
            Value::Object(m) => Some(m),
            _ => None,
        });
        data.lists.insert("activities".into(), items.collect());
        data
    }

    /// What happens to a unit's report in the demo, by its position in the list.
    fn fate(i: usize, annual: bool) -> Option<(ReportStatus, bool)> {
        // (final status, submitted late?)
        if annual {
            match i {
                0..=4 => Some((ReportStatus::Accepted, false)),
                5..=7 => Some((ReportStatus::Submitted, false)),
                8 => Some((ReportStatus::Submitted, true)),
                9 | 10 => Some((ReportStatus::Draft, false)),
                _ => None,
            }
        } else {
            match i {
                0..=17 => Some((ReportStatus::Accepted, i % 7 == 6)),
                18 | 19 => Some((ReportStatus::Submitted, i == 19)),
                20 => Some((ReportStatus::Returned, false)),
                21 | 22 => Some((ReportStatus::Draft, false)),
                _ => None,
            }
        }
    }

    fn check(
        form: &FormDefinition,
        data: &ReportData,
        start: NaiveDate,
        end: NaiveDate,
    ) -> ApiResult<()> {
        let result = form.validate(
            data,
            &ValidationContext {
                window_start: start,
                window_end: end,
                previous: None,
            },
        );
        if result.valid {
            Ok(())
        } else {
            Err(ApiError::internal(anyhow::anyhow!(
                "demo data fails validation: {:?}",
                result.errors
            )))
        }
    }

    pub async fn load(
        conn: &mut AsyncPgConnection,
        by: &By,
        root: &UnitRow,
        units: &[UnitRow],
    ) -> ApiResult<bool> {
        let exists = plan_store::list_plans(conn, Some(2024), None)
            .await?
            .iter()
            .any(|p| p.issuing_unit_id == root.id && p.document_number == DOCUMENT_NUMBER);
        if exists {
            return Ok(false);
        }
        let plan_id = plan_store::insert_plan(
            conn,
            NewPlanRow {
                year: 2024,
                document_number: DOCUMENT_NUMBER,
                title: "Kế hoạch thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2024",
                issue_date: Some(date(2024, 3, 15)?),
                legal_basis: "Kế hoạch số 39/KH-UBND ngày 29/01/2024 của UBND Thành phố về triển khai thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2024",
                issuing_unit_id: root.id,
                status: PlanStatus::Active,
                head_sign_off: false,
            },
        )
        .await?;
        let form_def = default_form_2024().map_err(ApiError::internal)?;
        let form = plan_store::insert_form(conn, plan_id, &form_def, &by.name).await?;
        let source = "Kế hoạch /KH-SVHTT năm 2024 của Sở Văn hóa và Thể thao, mục II.2.2";
        // (code, Vietnamese name, English name, formula, target)
        let indicators = [
            (
                "leaders_with_woman",
                "Tỷ lệ phòng chuyên môn, đơn vị trực thuộc Sở có lãnh đạo là nữ",
                "Share of offices and units with a woman among their leaders",
                "count(leaders_female >= 1) / count()",
                1.0,
            ),
            (
                "trained_female_share",
                "Tỷ lệ nữ trong tổng số công chức, viên chức được đào tạo, bồi dưỡng lý luận chính trị, chuyên môn nghiệp vụ",
                "Share of women among staff trained in political theory and professional skills",
                "sum(trained_political_female + trained_professional_female) / sum(trained_political_total + trained_professional_total)",
                0.5,
            ),
            (
                "committee_consolidated",
                "Tỷ lệ phòng chuyên môn, đơn vị trực thuộc Sở đã kiện toàn Ban Vì sự tiến bộ của phụ nữ",
                "Share of offices and units that have consolidated their Committee for the Advancement of Women",
                "count(committee_in_place) / count()",
                1.0,
            ),
        ];
        for (code, name_vi, name_en, formula, target) in indicators {
            plan_store::insert_indicator(
                conn,
                plan_id,
                IndicatorValues {
                    code,
                    name_vi,
                    name_en,
                    formula,
                    target,
                    direction: Direction::AtLeast,
                    source,
                    targets: &[],
                },
            )
            .await?;
        }
        let tasks = crate::tasks::demo::load(conn, plan_id, units).await?;
        let periods = [
            (
                PeriodKind::SemiAnnual,
                "2024S1",
                "Báo cáo 6 tháng đầu năm 2024",
                date(2024, 1, 1)?,
                date(2024, 5, 15)?,
                date(2024, 5, 20)?,
                false,
            ),
            (
                PeriodKind::Annual,
                "2024",
                "Báo cáo năm 2024",
                date(2024, 1, 1)?,
                date(2024, 11, 15)?,
                date(2024, 11, 20)?,
                true,
            ),
        ];
        for (kind, code, name, start, end, due, annual) in periods {
            let period = plan_store::insert_period(
                conn,
                plan_id,
                PeriodValues {
                    kind,
                    code,
                    name,
                    window_start: start,
                    window_end: end,
                    due_date: due,
                },
            )
            .await?;
            // The period expects the active units of the tree (the default set); the
            // office exempted the last one from the half-year report, with a reason.
            if !annual && let Some(last) = units.last() {
                crate::plans::expected::remove(
                    conn,
                    period.id,
                    last.id,
                    "coordinator",
                    "Đơn vị đang kiện toàn tổ chức, được miễn báo cáo 6 tháng đầu năm theo ý kiến của Lãnh đạo Sở.",
                )
                .await?;
            }
            // The annual period has a reminder schedule of its own; the other follows
            // the default (7 and 1 days before, on the day, then every 3 days).
            if annual {
                notification_store::put_schedule(
                    conn,
                    &ReminderSchedule {
                        offsets_days: vec![-10, -3, -1, 0],
                        repeat_every_days: Some(2),
                        ..ReminderSchedule::default_for(period.id)
                    },
                    "coordinator",
                )
                .await?;
            }
            for (i, unit) in units.iter().enumerate() {
                let Some((status, late)) = fate(i, annual) else {
                    if annual {
                        // No report on the due date: the day's reminder went out.
                        let note = crate::notifications::reminder_note(
                            period.id, code, name, &unit.code, due, 0, None,
                        );
                        crate::notifications::worker::remind(
                            conn,
                            period.id,
                            unit.id,
                            "d+0",
                            "reminder schedule",
                            None,
                            at(2024, 11, 20, 8)?,
                            &note,
                        )
                        .await?;
                    }
                    continue;
                };
                let mut data = sample_data(unit, annual, start);
                data.tasks = crate::tasks::demo::progress(&tasks, unit, annual);
                let data = form_def.derive(&data).unwrap_or(data);
                check(&form_def, &data, start, end)?;
                let json = serde_json::to_value(&data).map_err(ApiError::internal)?;
                let Some(row) =
                    report_store::insert_draft(conn, period.id, unit.id, form.id, &json).await?
                else {
                    continue;
                };
                if status == ReportStatus::Draft {
                    continue;
                }
                let (y, m, d) = (
                    due.format("%Y").to_string(),
                    due.format("%m").to_string(),
                    due.format("%d").to_string(),
                );
                let (y, m, d): (i32, u32, u32) = (
                    y.parse().unwrap_or(2024),
                    m.parse().unwrap_or(5),
                    d.parse().unwrap_or(20),
                );
                let submitted = if late {
                    at(y, m, d + 3, 10)?
                } else {
                    at(y, m, d.saturating_sub(2 + (i as u32 % 5)), 15)?
                };
                let reporter = unit.code.to_lowercase();
                // The late annual report came on paper: the coordinating office
                // entered it on the unit's behalf.
                let on_paper = annual && late;
                let by = if on_paper { "coordinator" } else { &reporter };
                let row = report_store::submit(
                    conn,
                    &row,
                    Submission {
                        number: 1,
                        form_id: form.id,
                        data: &json,
                        warnings: &[],
                        at: submitted,
                        by,
                        late: is_late(submitted, due),
                        entry_note: on_paper.then_some(PAPER_NOTE),
                        status: ReportStatus::Submitted,
                        approved: false,
                    },
                )
                .await?;
                if on_paper {
                    notify(
                        conn,
                        unit,
                        period.id,
                        Some(row.id),
                        "report.entered_on_behalf",
                        format!("Báo cáo kỳ {code} được nộp thay đơn vị"),
                        format!(
                            "coordinator đã nộp thay báo cáo kỳ {code} của đơn vị {}.\nGhi chú: {PAPER_NOTE}",
                            unit.code
                        ),
                    )
                    .await?;
                }
                let reviewed = submitted + chrono::Duration::days(2);
                match status {
                    ReportStatus::Accepted => {
                        report_store::review(
                            conn,
                            row.id,
                            ReportStatus::Accepted,
                            "coordinator",
                            None,
                            reviewed,
                        )
                        .await?;
                    }
                    ReportStatus::Returned => {
                        let reason =
                            "Đề nghị bổ sung số liệu cán bộ nữ diện quy hoạch và kinh phí đã chi.";
                        report_store::review(
                            conn,
                            row.id,
                            ReportStatus::Returned,
                            "coordinator",
                            Some(reason),
                            reviewed,
                        )
                        .await?;
                        notify(
                            conn,
                            unit,
                            period.id,
                            Some(row.id),
                            "report.returned",
                            format!("Báo cáo kỳ {code} bị trả lại"),
                            format!(
                                "Báo cáo kỳ {code} của đơn vị {} đã bị coordinator trả lại để chỉnh sửa.\nLý do: {reason}",
                                unit.code
                            ),
                        )
                        .await?;
                    }
                    _ => {}
                }
            }
        }
        Ok(true)
    }
}
