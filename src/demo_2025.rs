//! `gereport demo --next-year`: the demo department's 2025 plan, made as a coordinating
//! office would make it, by copying the 2024 plan (`POST /plans/{id}/copy` does the
//! same), then giving the leadership indicator, beside the plan's own 100 %, the
//! national targets of Resolution 28/NQ-CP (60 % in 2025, 75 % in 2030), which the
//! 2025 compilations judge it against too. Idempotent: an existing 2025 plan is left alone.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::audit::{self, By};
use crate::demo::ROOT_CODE;
use crate::demo::plan2024::DOCUMENT_NUMBER;
use crate::error::{ApiError, ApiResult};
use crate::plans::copy::{CopyRequest, copy_plan_in};
use crate::plans::indicator::Direction;
use crate::plans::model::{PlanStatus, YearTarget};
use crate::plans::routes::plan_event;
use crate::plans::store::{self as plan_store, IndicatorValues};

pub const YEAR: i32 = 2025;

/// The indicator that gets the national targets beside its own (100 %).
pub const LEADERS_INDICATOR: &str = "leaders_with_woman";

/// Where the national targets come from.
pub const RESOLUTION_28: &str = "Nghị quyết số 28/NQ-CP của Chính phủ, Chiến lược quốc gia về bình đẳng giới \
                                 giai đoạn 2021 - 2030, mục tiêu 1";

/// Resolution 28/NQ-CP's targets for agencies with a woman in key leadership: 60 %
/// by 2025, 75 % by 2030.
pub fn national_targets() -> Vec<YearTarget> {
    [(2025, 0.6), (2030, 0.75)]
        .into_iter()
        .map(|(year, value)| YearTarget {
            year,
            value,
            source: RESOLUTION_28.to_string(),
        })
        .collect()
}

/// What the 2025 plan got; `None` when it existed already.
pub struct NextYear {
    pub plan_id: uuid::Uuid,
    pub copied: Vec<crate::plans::copy::CopiedPart>,
}

/// Copies the demo's 2024 plan to 2025 (the demo must be loaded) and adds the 2025
/// national target. `Ok(None)` when the 2025 plan exists already.
pub async fn load(conn: &mut AsyncPgConnection) -> ApiResult<Option<NextYear>> {
    let by = By::system("demo");
    conn.transaction::<_, ApiError, _>(async |conn| {
        let root = crate::org::store::find(conn, ROOT_CODE)
            .await?
            .ok_or_else(|| ApiError::not_found("demo department (run gereport demo first)"))?;
        let plans = plan_store::list_plans(conn, None, None).await?;
        let ours = |year: i32| {
            plans.iter().find(|p| {
                p.issuing_unit_id == root.id && p.year == year && p.document_number == DOCUMENT_NUMBER
            })
        };
        if ours(YEAR).is_some() {
            return Ok(None);
        }
        let source = ours(2024)
            .ok_or_else(|| ApiError::not_found("demo 2024 plan (run gereport demo first)"))?;
        let (plan, mut copied) = copy_plan_in(
            conn,
            source,
            &CopyRequest {
                year: YEAR,
                document_number: DOCUMENT_NUMBER,
                title: None,
                issue_date: None,
                legal_basis: Some(
                    "Nghị quyết số 28/NQ-CP ngày 03/3/2021 của Chính phủ ban hành Chiến lược quốc gia \
                     về bình đẳng giới giai đoạn 2021 - 2030; Kế hoạch của UBND Thành phố về công tác \
                     bình đẳng giới và vì sự tiến bộ của phụ nữ năm 2025",
                ),
                status: PlanStatus::Draft,
                by: &by.name,
            },
        )
        .await?;
        let leaders = plan_store::list_indicators(conn, plan.id)
            .await?
            .into_iter()
            .find(|i| i.code == LEADERS_INDICATOR)
            .ok_or_else(|| ApiError::not_found("the 2024 plan's leadership indicator"))?;
        let targets = national_targets();
        plan_store::update_indicator(
            conn,
            leaders.id,
            IndicatorValues {
                code: &leaders.code,
                name_vi: &leaders.name_vi,
                name_en: &leaders.name_en,
                formula: &leaders.formula,
                target: leaders.target,
                direction: leaders.direction.parse().unwrap_or(Direction::AtLeast),
                source: &leaders.source,
                targets: &targets,
            },
        )
        .await?;
        copied.push(crate::plans::copy::CopiedPart {
            part: "national_targets".into(),
            count: targets.len() as i64,
        });
        audit::append(
            conn,
            &by,
            plan_event(
                "plan.copy",
                &plan,
                json!({ "copied_from": source.id, "after": plan.to_api(), "copied": copied }),
            ),
        )
        .await?;
        Ok(Some(NextYear {
            plan_id: plan.id,
            copied,
        }))
    })
    .await
}
