//! The tasks of section III of the 2024 plan (`seed/ke-hoach-binh-dang-gioi-2024.vi.md`)
//! for `gereport demo`, with the lead and cooperating units the department would name,
//! and the progress the demo reports give on them.

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{TaskProgress, TaskStatus};
use super::store::{self, TaskRow, TaskValues};
use crate::error::{ApiError, ApiResult};
use crate::org::store::Row as UnitRow;

/// (code, section, title, lead, cooperating, due (month, day) in 2024, expected output)
type DemoTask = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<(u32, u32)>,
    &'static str,
);

const TASKS: &[DemoTask] = &[
    (
        "III.1.1",
        "III.1",
        "Kiện toàn nhân sự Ban Vì sự tiến bộ của phụ nữ của Sở; xây dựng kế hoạch, chương trình hoạt động bình đẳng giới năm 2024",
        "TCPC",
        &["XDNS"],
        Some((3, 31)),
        "Quyết định kiện toàn Ban; kế hoạch hoạt động năm 2024 được ban hành",
    ),
    (
        "III.1.2",
        "III.1",
        "Đánh giá kết quả hoạt động và duy trì hoạt động của Ban Vì sự tiến bộ của phụ nữ theo Quy chế",
        "TCPC",
        &["VP"],
        Some((11, 15)),
        "Báo cáo đánh giá hoạt động của Ban",
    ),
    (
        "III.1.3",
        "III.1",
        "Phối hợp tập huấn bồi dưỡng kiến thức, kỹ năng cho nữ lãnh đạo, quản lý và nữ cán bộ trong diện quy hoạch",
        "TCPC",
        &["XDNS"],
        Some((10, 31)),
        "Ít nhất một lớp tập huấn; danh sách học viên",
    ),
    (
        "III.1.4",
        "III.1",
        "Kiểm tra hoạt động vì sự tiến bộ của phụ nữ tại các đơn vị theo năm nội dung trọng tâm của Kế hoạch",
        "TTRA",
        &["TCPC", "XDNS"],
        Some((11, 15)),
        "Biên bản và thông báo kết luận kiểm tra",
    ),
    (
        "III.1.5",
        "III.1",
        "Tổ chức hoạt động hưởng ứng và gặp mặt cán bộ nữ nhân ngày Quốc tế phụ nữ 8/3 và ngày Phụ nữ Việt Nam 20/10",
        "VP",
        &["XDNS"],
        Some((10, 20)),
        "Hai buổi gặp mặt cán bộ nữ",
    ),
    (
        "III.1.6",
        "III.1",
        "Tổ chức hội nghị triển khai, tọa đàm, tập huấn về bình đẳng giới cho công chức, viên chức và người lao động nữ của Sở",
        "XDNS",
        &["TTVHHN"],
        None,
        "Hội nghị, tọa đàm, tập huấn trong năm",
    ),
    (
        "III.2",
        "III.2",
        "Lồng ghép nội dung bình đẳng giới trong hoạt động của thiết chế văn hóa và các hoạt động giải trí, thể thao, nghệ thuật của đơn vị",
        "QLVH",
        &["QLTDTT", "TTVHHN"],
        None,
        "Các hoạt động văn hóa, thể thao, nghệ thuật có lồng ghép bình đẳng giới",
    ),
    (
        "III.3",
        "III.3",
        "Hướng dẫn, bố trí kinh phí thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ các đơn vị theo Luật Ngân sách nhà nước",
        "KHTC",
        &[],
        Some((4, 30)),
        "Văn bản hướng dẫn; dự toán kinh phí được giao",
    ),
    (
        "III.4",
        "III.4",
        "Hướng dẫn, theo dõi, tổng hợp tình hình triển khai công tác bình đẳng giới của Sở; báo cáo định kỳ theo quy định",
        "XDNS",
        &[],
        None,
        "Báo cáo 6 tháng và báo cáo năm gửi UBND Thành phố, Sở Lao động TB&XH",
    ),
];

fn unit_id(units: &[UnitRow], code: &str) -> ApiResult<Uuid> {
    units
        .iter()
        .find(|u| u.code == code)
        .map(|u| u.id)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("demo unit {code} missing")))
}

/// Writes the plan's tasks.
pub async fn load(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    units: &[UnitRow],
) -> ApiResult<Vec<TaskRow>> {
    let mut out = Vec::new();
    for (code, section, title, lead, helpers, due, output) in TASKS {
        let helpers = helpers
            .iter()
            .map(|h| unit_id(units, h))
            .collect::<ApiResult<Vec<_>>>()?;
        let due_date = due.and_then(|(m, d)| NaiveDate::from_ymd_opt(2024, m, d));
        out.push(
            store::insert(
                conn,
                plan_id,
                &TaskValues {
                    code,
                    title_vi: title,
                    description_vi: "",
                    plan_section: section,
                    lead_unit_id: unit_id(units, lead)?,
                    cooperating_unit_ids: &helpers,
                    due_date,
                    period_ids: &[],
                    expected_output: output,
                },
            )
            .await?,
        );
    }
    Ok(out)
}

/// What a unit says about a task it leads, by task and period.
fn lead_progress(code: &str, annual: bool) -> (TaskStatus, &'static str) {
    use TaskStatus::*;
    match (code, annual) {
        ("III.1.1", _) => (
            Done,
            "Đã ban hành quyết định kiện toàn Ban và kế hoạch hoạt động năm 2024.",
        ),
        ("III.1.2", false) => (
            InProgress,
            "Ban duy trì họp định kỳ theo Quy chế; đánh giá vào cuối năm.",
        ),
        ("III.1.2", true) => (Done, "Đã đánh giá kết quả hoạt động của Ban năm 2024."),
        ("III.1.3", false) => (NotStarted, "Dự kiến mở lớp tập huấn trong quý III."),
        ("III.1.3", true) => (
            Done,
            "Đã tổ chức 01 lớp tập huấn cho 45 nữ cán bộ diện quy hoạch.",
        ),
        ("III.1.4", false) => (InProgress, "Đã kiểm tra 3/8 đơn vị theo kế hoạch."),
        ("III.1.4", true) => (
            InProgress,
            "Đã kiểm tra 6/8 đơn vị; 2 đơn vị chuyển sang quý I năm 2025 do trùng lịch thanh tra chuyên ngành.",
        ),
        ("III.1.5", false) => (
            InProgress,
            "Đã tổ chức gặp mặt nhân ngày 8/3; chuẩn bị cho ngày 20/10.",
        ),
        ("III.1.5", true) => (Done, "Đã tổ chức gặp mặt cán bộ nữ nhân ngày 8/3 và 20/10."),
        ("III.1.6", _) => (
            InProgress,
            "Đã tổ chức hội nghị triển khai và 02 buổi tọa đàm.",
        ),
        ("III.2", _) => (
            InProgress,
            "Lồng ghép trong các chương trình nghệ thuật phục vụ nhiệm vụ chính trị.",
        ),
        ("III.3", _) => (
            Done,
            "Đã hướng dẫn các đơn vị lập dự toán kinh phí bình đẳng giới.",
        ),
        _ => (
            InProgress,
            "Đang theo dõi, tổng hợp báo cáo của các đơn vị.",
        ),
    }
}

/// The progress a demo unit reports in a period: a status and note on every task it
/// leads, and a note on the tasks it helps with.
pub fn progress(tasks: &[TaskRow], unit: &UnitRow, annual: bool) -> Vec<TaskProgress> {
    tasks
        .iter()
        .filter_map(|t| {
            if t.lead_unit_id == unit.id {
                let (status, note) = lead_progress(&t.code, annual);
                Some(TaskProgress {
                    task: t.code.clone(),
                    status: Some(status),
                    note: Some(note.to_string()),
                })
            } else if t.cooperating_unit_ids.contains(&unit.id) {
                Some(TaskProgress {
                    task: t.code.clone(),
                    status: None,
                    note: Some(format!("{} đã cử cán bộ phối hợp thực hiện.", unit.name)),
                })
            } else {
                None
            }
        })
        .collect()
}
