//! Request-body examples for the OpenAPI document, one per operation that takes a
//! body. Each is something the service accepts as it stands against the demo
//! department (`scripts/run`), so Swagger UI's *Try it out* succeeds; the report is a
//! complete, valid annual 2024 report of the 2024 form, and the form is that form.
//! `tests/api/openapi.rs` sends every one of them and expects a success.

use std::collections::HashMap;

use serde_json::{Value, json};

/// The 2024 annual report of one office (XDNS, the coordinating office: with its
/// progress on the demo plan's tasks it leads or helps with), every required field
/// filled in.
pub fn report_2024() -> Value {
    json!({
        "values": {
            "staff_total": 42, "staff_female": 24,
            "leaders_total": 3, "leaders_female": 1,
            "planning_pool_total": 6, "planning_pool_female": 3,
            "appointed_total": 1, "appointed_female": 1,
            "trained_political_total": 4, "trained_political_female": 2,
            "trained_professional_total": 10, "trained_professional_female": 6,
            "committee_in_place": true,
            "committee_members_total": 5, "committee_members_female": 3,
            "committee_meetings": 2, "committee_inspections": 1,
            "budget_allocated_vnd": 30000000, "budget_spent_vnd": 27500000,
            "culture_activities_integrated": 4,
            "culture_integration_description": "Lồng ghép nội dung bình đẳng giới trong 4 chương trình biểu diễn và hội thi của đơn vị.",
            "narrative_results": "Đơn vị đã quán triệt Luật Bình đẳng giới tới toàn thể công chức, viên chức; 1 nữ cán bộ được bổ nhiệm lãnh đạo.",
            "narrative_difficulties": "Cán bộ làm công tác bình đẳng giới kiêm nhiệm; kinh phí còn hạn chế.",
            "narrative_harmful_issues": "Nữ cán bộ có con nhỏ khó tham gia các khóa đào tạo dài hạn.",
            "narrative_recommendations": "Đề nghị Sở mở thêm lớp tập huấn kỹ năng lãnh đạo cho nữ cán bộ diện quy hoạch."
        },
        "lists": {
            "activities": [
                {
                    "type": "event_march_8",
                    "title": "Gặp mặt nữ cán bộ nhân ngày Quốc tế Phụ nữ 8/3",
                    "date": "2024-03-07",
                    "participants_total": 40,
                    "participants_female": 24,
                    "topics": ["law_gender_equality"],
                    "cost_vnd": 3000000
                },
                {
                    "type": "seminar",
                    "title": "Tọa đàm bình đẳng giới trong lĩnh vực chính trị",
                    "date": "2024-10-18",
                    "participants_total": 35,
                    "participants_female": 20,
                    "topics": ["gender_equality_politics", "directive_21_ct_tw"],
                    "cost_vnd": 2500000
                }
            ]
        },
        "tasks": [
            { "task": "III.1.6", "status": "in_progress", "note": "Đã tổ chức hội nghị triển khai và 02 buổi tọa đàm cho nữ công chức, viên chức." },
            { "task": "III.4", "status": "done", "note": "Đã tổng hợp báo cáo 6 tháng và báo cáo năm của Sở." },
            { "task": "III.1.4", "note": "Cử 01 công chức tham gia đoàn kiểm tra của Sở." }
        ]
    })
}

/// Examples by operationId.
pub fn request_examples() -> HashMap<&'static str, Value> {
    let form = crate::plans::form::default_form_2024()
        .ok()
        .and_then(|f| serde_json::to_value(f).ok())
        .unwrap_or_default();
    HashMap::from([
        (
            "uploadAttachment",
            json!("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
        ),
        (
            "importReportWorkbook",
            json!("(the workbook of GET …/template.xlsx, filled in: binary XLSX)"),
        ),
        (
            "login",
            json!({"username": "coordinator", "password": "demo-password-2024"}),
        ),
        (
            "refreshToken",
            json!({"refresh_token": "the refresh_token of the last login or refresh"}),
        ),
        ("logout", json!({"refresh_token": null})),
        (
            "issueClientToken",
            json!({"grant_type": "client_credentials", "client_id": "gr_…", "client_secret": "…"}),
        ),
        (
            "changeOwnPassword",
            json!({"current_password": "demo-password-2024", "new_password": "mật-khẩu-mới-2025"}),
        ),
        (
            "createOrgUnit",
            json!({"code": "TTVHTT-BV", "name": "Trung tâm Văn hóa - Thể thao Ba Vì", "kind": "subordinate_unit", "parent": "SVHTT"}),
        ),
        (
            "updateOrgUnit",
            json!({"name": "Phòng Xây dựng nếp sống văn hóa và Gia đình"}),
        ),
        (
            "createUser",
            json!({
                "username": "lan.nguyen", "display_name": "Nguyễn Thị Lan",
                "email": "lan.nguyen@example.vn", "role": "reporter", "unit": "XDNS",
                "password": "mật-khẩu-ban-đầu-2024"
            }),
        ),
        (
            "updateUser",
            json!({"display_name": "Nguyễn Thị Lan", "email": "lan.nguyen@example.vn"}),
        ),
        (
            "resetUserPassword",
            json!({"new_password": "mật-khẩu-cấp-lại-2024"}),
        ),
        (
            "createServiceClient",
            json!({"name": "Phần mềm nhân sự của Nhà hát Chèo", "role": "reporter", "unit": "XDNS"}),
        ),
        (
            "createPlan",
            json!({
                "year": 2025, "document_number": "125/KH-SVHTT",
                "title": "Kế hoạch thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2025",
                "issuing_unit": "SVHTT", "issue_date": "2025-02-10",
                "legal_basis": "Kế hoạch của UBND Thành phố về bình đẳng giới năm 2025"
            }),
        ),
        (
            "updatePlan",
            json!({"title": "Kế hoạch thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2024"}),
        ),
        ("savePlanForm", form),
        (
            "copyPlan",
            json!({
                "year": 2025, "document_number": "18/KH-SVHTT",
                "issue_date": "2025-02-20",
                "title": "Kế hoạch thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2025"
            }),
        ),
        (
            "setDataElementCodes",
            json!({
                "data_set": "GE_CULTURE_ANNUAL",
                "codes": [
                    { "field": "staff_total", "data_element": "GE_STAFF", "attributes": { "SEX": "T" } },
                    { "field": "staff_female", "data_element": "GE_STAFF", "attributes": { "SEX": "F" } },
                    { "field": "leaders_total", "data_element": "GE_LEADERS", "attributes": { "SEX": "T" } },
                    { "field": "leaders_female", "data_element": "GE_LEADERS", "attributes": { "SEX": "F" } },
                    { "field": "budget_spent_vnd", "data_element": "GE_BUDGET_SPENT" }
                ]
            }),
        ),
        (
            "createIndicator",
            json!({
                "code": "training_course_female_share",
                "name_vi": "Tỷ lệ nữ trong số người tham gia các lớp tập huấn",
                "name_en": "Share of women among the participants of training courses",
                "formula": "sum(activities.participants_female where type == \"training_course\") / sum(activities.participants_total where type == \"training_course\")",
                "target": 0.5, "direction": "at_least", "source": "Kế hoạch của Sở",
                "targets": [{"year": 2025, "value": 0.4, "source": "Kế hoạch của UBND Thành phố năm 2025"}]
            }),
        ),
        (
            "updateIndicator",
            json!({
                "formula": "count(committee_in_place) / count()",
                "targets": [
                    {"year": 2025, "value": 0.6, "source": "Nghị quyết 28/NQ-CP"},
                    {"year": 2030, "value": 0.75, "source": "Nghị quyết 28/NQ-CP"}
                ]
            }),
        ),
        (
            "createPeriod",
            json!({
                "kind": "ad_hoc", "code": "2024Q3", "name": "Báo cáo đột xuất quý III năm 2024",
                "window_start": "2024-07-01", "window_end": "2024-09-30", "due_date": "2024-10-10"
            }),
        ),
        ("updatePeriod", json!({"due_date": "2024-11-25"})),
        (
            "extendDueDate",
            json!({"due_date": "2024-11-29", "reason": "Đơn vị đề nghị gia hạn do thay đổi nhân sự phụ trách."}),
        ),
        (
            "addExpectedUnit",
            json!({"reason": "Đơn vị được giao bổ sung nhiệm vụ báo cáo công tác bình đẳng giới từ kỳ này."}),
        ),
        (
            "createPlanTask",
            json!({
                "code": "III.1.7",
                "title_vi": "Tổ chức tập huấn kỹ năng lồng ghép giới cho cán bộ làm công tác bình đẳng giới của các đơn vị",
                "plan_section": "III.1",
                "lead_unit": "TCPC",
                "cooperating_units": ["XDNS"],
                "due_date": "2024-09-30",
                "expected_output": "01 lớp tập huấn; tài liệu hướng dẫn lồng ghép giới"
            }),
        ),
        (
            "replacePlanTask",
            json!({
                "code": "III.1.7",
                "title_vi": "Tổ chức tập huấn kỹ năng lồng ghép giới cho cán bộ làm công tác bình đẳng giới của các đơn vị",
                "plan_section": "III.1",
                "lead_unit": "TCPC",
                "cooperating_units": ["XDNS", "TTVHHN"],
                "due_date": "2024-10-31",
                "expected_output": "01 lớp tập huấn; tài liệu hướng dẫn lồng ghép giới"
            }),
        ),
        ("saveReportDraft", report_2024()),
        ("importReports", {
            let report = report_2024();
            json!({
                "dry_run": true,
                "items": [
                    { "unit": "TCPC", "values": report["values"], "lists": report["lists"] },
                    { "unit": "KHTC", "values": { "staff_total": 18, "staff_female": 11 } }
                ]
            })
        }),
        ("validateReport", report_2024()),
        (
            "returnReport",
            json!({"reason": "Đề nghị bổ sung số liệu đào tạo chuyên môn, nghiệp vụ."}),
        ),
        ("acceptReport", json!({"reason": "Số liệu đầy đủ."})),
        (
            "approveReport",
            json!({"reason": "Đồng ý gửi Sở Văn hóa và Thể thao."}),
        ),
        (
            "declineReport",
            json!({"reason": "Đề nghị bổ sung kết quả hoạt động truyền thông trước khi gửi Sở."}),
        ),
        (
            "reopenReport",
            json!({"reason": "Đơn vị đề nghị điều chỉnh số liệu cán bộ lãnh đạo."}),
        ),
        (
            "createWebhook",
            json!({
                "url": "https://baocao.hanoi.example.vn/gereport/webhooks",
                "description": "Hệ thống báo cáo của Thành phố",
                "event_types": ["report.accepted", "compilation.changed", "period.due_date_changed"],
                "unit": "SVHTT"
            }),
        ),
        (
            "updateWebhook",
            json!({"event_types": ["report.submitted", "report.accepted", "compilation.changed"]}),
        ),
        ("putMyNotificationSettings", json!({"email": false})),
        (
            "putDocumentSettings",
            json!({
                "superior_body": "UBND THÀNH PHỐ HÀ NỘI",
                "issuing_body": "SỞ VĂN HÓA VÀ THỂ THAO",
                "abbreviation": "SVHTT",
                "place": "Hà Nội",
                "signer_authority": "KT. GIÁM ĐỐC",
                "signer_title": "PHÓ GIÁM ĐỐC",
                "signer_name": "Trần Thị Vân Anh",
                "recipients": ["UBND Thành phố", "Sở Lao động TB&XH", "Ban Giám đốc Sở"],
                "drafting_unit": "XDNS"
            }),
        ),
        (
            "putReminderSchedule",
            json!({"offsets_days": [-10, -3, 0], "repeat_every_days": 2, "enabled": true}),
        ),
        (
            "remindMissingUnits",
            json!({"message": "Đề nghị các đơn vị chưa nộp hoàn thành báo cáo trước ngày 05/12."}),
        ),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::plans::form::{ReportData, ValidationContext};

    /// The report example passes the 2024 form's full validation, as a submission must.
    #[test]
    fn the_report_example_is_a_valid_2024_report() {
        let form = crate::plans::form::default_form_2024().unwrap();
        let data: ReportData = serde_json::from_value(super::report_2024()).unwrap();
        let ctx = ValidationContext {
            window_start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
            window_end: chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default(),
            previous: None,
        };
        let result = form.validate(&data, &ctx);
        assert!(result.errors.is_empty(), "{:?}", result.errors);
        assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    }
}
