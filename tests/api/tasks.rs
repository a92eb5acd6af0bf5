//! Plan tasks: coordinators keep them, units see only those that concern them, the
//! lead unit reports progress (and helpers notes) inside its report, where the report
//! workflow carries it; and the compilation has a tasks part in every format.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    World, complete_report, days, issue, issues, json_of, report_path, today_vn,
};
use crate::helpers::assert_problem;

fn tasks_path(w: &World) -> String {
    format!("/api/v1/plans/{}/tasks", w.plan_id)
}

async fn create(w: &World, body: Value) -> reqwest::Response {
    w.req(&w.coordinator, Method::POST, &tasks_path(w))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// T1: led by office A with office B helping, due five days ago; T2: led by B.
async fn two_tasks(w: &World) -> (Value, Value) {
    let t1 = json_of(
        create(
            w,
            json!({
                "code": "III.1.1",
                "title_vi": "Kiện toàn Ban Vì sự tiến bộ của phụ nữ",
                "plan_section": "III.1",
                "lead_unit": "OFFICE-A",
                "cooperating_units": ["OFFICE-B"],
                "due_date": today_vn() - days(5),
                "expected_output": "Quyết định kiện toàn",
            }),
        )
        .await,
        201,
    )
    .await;
    let t2 = json_of(
        create(
            w,
            json!({
                "code": "III.3",
                "title_vi": "Bố trí kinh phí thực hiện công tác bình đẳng giới",
                "lead_unit": w.b.id,
                "due_date": today_vn() + days(300),
            }),
        )
        .await,
        201,
    )
    .await;
    (t1, t2)
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn coordinators_keep_the_plans_tasks_and_a_unit_sees_only_those_that_concern_it() {
    let w = World::new().await;
    let (t1, t2) = two_tasks(&w).await;
    assert_eq!(t1["lead_unit"]["code"], "OFFICE-A");
    assert_eq!(t1["cooperating_units"][0]["code"], "OFFICE-B");
    assert_eq!(t1["plan_section"], "III.1");
    assert_eq!(t1["periods"], json!([]));
    assert_eq!(t2["lead_unit"]["code"], "OFFICE-B");

    // The same code again, an unknown unit, a period the plan lacks: refused whole.
    let problem = assert_problem(
        create(
            &w,
            json!({ "code": "III.3", "title_vi": "x", "lead_unit": "OFFICE-A" }),
        )
        .await,
        409,
        "task_code_taken",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("III.3"));
    let problem = assert_problem(
        create(
            &w,
            json!({ "code": "T9", "title_vi": "x", "lead_unit": "NOWHERE" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "body.lead_unit");
    let problem = assert_problem(
        create(
            &w,
            json!({ "code": "T9", "title_vi": "x", "lead_unit": "OFFICE-A", "periods": ["CUR", "2099"] }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "body.periods[1]");
    assert_problem(
        create(
            &w,
            json!({ "code": "T9", "title_vi": "x", "lead_unit": "OFFICE-A", "status": "done" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    // A reporter does not keep tasks.
    assert_problem(
        w.req(&w.reporter_a, Method::POST, &tasks_path(&w))
            .json(&json!({ "code": "T9", "title_vi": "x", "lead_unit": "OFFICE-A" }))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;

    // Scope: the coordinator sees both; A its own (lead); B both (lead of one,
    // helper of the other); another unit's task is a 404.
    let list = |who| {
        let w = &w;
        async move { codes(&json_of(w.get(who, &tasks_path(w)).await, 200).await) }
    };
    assert_eq!(list(&w.coordinator).await, ["III.1.1", "III.3"]);
    assert_eq!(list(&w.reporter_a).await, ["III.1.1"]);
    assert_eq!(list(&w.reporter_b).await, ["III.1.1", "III.3"]);
    let t2_path = format!("{}/{}", tasks_path(&w), t2["id"].as_str().unwrap());
    assert_problem(w.get(&w.reporter_a, &t2_path).await, 404, "not_found").await;
    json_of(w.get(&w.reporter_b, &t2_path).await, 200).await;

    // Replace: the whole task, its version bumped; then delete, both audited.
    let replaced = json_of(
        w.req(&w.coordinator, Method::PUT, &t2_path)
            .json(&json!({
                "code": "III.3",
                "title_vi": "Hướng dẫn, bố trí kinh phí",
                "lead_unit": "OFFICE-B",
                "periods": ["CUR"],
            }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["periods"], json!(["CUR"]));
    assert_eq!(replaced["due_date"], Value::Null);
    let res = w
        .req(&w.coordinator, Method::DELETE, &t2_path)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(w.get(&w.coordinator, &t2_path).await, 404, "not_found").await;
    assert_eq!(
        w.app
            .db_i64("SELECT count(*) AS n FROM audit_events WHERE object_type = 'plan_task'")
            .await,
        4
    );
}

fn with_tasks(mut data: Value, tasks: Value) -> Value {
    data["tasks"] = tasks;
    data
}

#[tokio::test]
async fn progress_is_drafted_submitted_frozen_and_returned_with_the_report() {
    let w = World::new().await;
    let (t1, _) = two_tasks(&w).await;
    let p = &w.open;
    let data = complete_report(p.window_start);

    // A unit reports on its own tasks only; a helper gives no status.
    let problem = w
        .refused(
            w.put_report(
                &w.reporter_a,
                p,
                "OFFICE-A",
                &with_tasks(data.clone(), json!([{ "task": "III.3", "status": "done" }])),
                None,
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        [issue("tasks[0].task", "not_your_task", None)]
    );
    let problem = w
        .refused(
            w.put_report(
                &w.reporter_b,
                p,
                "OFFICE-B",
                &with_tasks(
                    data.clone(),
                    json!([{ "task": "III.1.1", "status": "done" }, { "task": "NOPE" }]),
                ),
                None,
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        [
            issue("tasks[0].status", "lead_unit_only", None),
            issue("tasks[1].task", "unknown_task", None)
        ]
    );

    // A draft may leave its own tasks out; a submission may not.
    let (_, etag) = w.draft(&w.reporter_a, p, "OFFICE-A", &data).await;
    let problem = assert_problem(
        w.act(&w.reporter_a, p, "OFFICE-A", "submit", Some(&etag), None)
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        issues(&problem["errors"]),
        [issue("tasks", "task_status_missing", None)]
    );
    // The dry run says the same.
    let dry = json_of(
        w.act(&w.reporter_a, p, "OFFICE-A", "validate", None, None)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(dry["valid"], false);
    assert_eq!(
        issues(&dry["errors"]),
        [issue("tasks", "task_status_missing", None)]
    );

    let progress = json!([{ "task": "III.1.1", "status": "in_progress", "note": "Đã trình dự thảo quyết định." }]);
    // A stale ETag is refused like any other save.
    w.refused(
        w.put_report(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), progress.clone()),
            Some("\"stale-1\""),
        ),
        412,
        "stale_etag",
    )
    .await;
    let (saved, etag) = w
        .save(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), progress.clone()),
            &etag,
        )
        .await;
    assert_eq!(saved["data"]["tasks"], progress);
    let (submitted, etag) = w
        .transition(&w.reporter_a, p, "OFFICE-A", "submit", &etag, None)
        .await;
    assert_eq!(submitted["revision"], 1);
    // Frozen: a submitted report takes no new progress.
    w.refused(
        w.put_report(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), json!([])),
            Some(&etag),
        ),
        409,
        "not_editable",
    )
    .await;

    // Returned, it takes new progress; the first revision keeps the old.
    let (_, etag) = w
        .transition(
            &w.coordinator,
            p,
            "OFFICE-A",
            "return",
            &etag,
            Some(json!({ "reason": "Bổ sung tiến độ" })),
        )
        .await;
    let done = json!([{ "task": "III.1.1", "status": "done", "note": "Quyết định đã ban hành." }]);
    let (_, etag) = w
        .save(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), done.clone()),
            &etag,
        )
        .await;
    let (resubmitted, _) = w
        .transition(&w.reporter_a, p, "OFFICE-A", "submit", &etag, None)
        .await;
    assert_eq!(resubmitted["revision"], 2);
    let rev = |n: i32| {
        let w = &w;
        async move {
            json_of(
                w.get(
                    &w.coordinator,
                    &format!(
                        "{}/revisions/{n}",
                        crate::fixtures::report_path(p.id, "OFFICE-A")
                    ),
                )
                .await,
                200,
            )
            .await
        }
    };
    assert_eq!(rev(1).await["data"]["tasks"], progress);
    assert_eq!(rev(2).await["data"]["tasks"], done);

    // The helper's note; the peer cannot read A's report, progress included.
    let (_, _) = w
        .draft(
            &w.reporter_b,
            p,
            "OFFICE-B",
            &with_tasks(
                data.clone(),
                json!([{ "task": "III.1.1", "note": "Đã cử cán bộ phối hợp." }]),
            ),
        )
        .await;
    assert_problem(
        w.get(
            &w.reporter_b,
            &crate::fixtures::report_path(p.id, "OFFICE-A"),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // A task units have reported on keeps its code and is not deleted.
    let t1_path = format!("{}/{}", tasks_path(&w), t1["id"].as_str().unwrap());
    w.refused(
        w.req(&w.coordinator, Method::DELETE, &t1_path),
        409,
        "task_in_use",
    )
    .await;
    w.refused(
        w.req(&w.coordinator, Method::PUT, &t1_path)
            .json(&json!({ "code": "III.1.9", "title_vi": "x", "lead_unit": "OFFICE-A" })),
        409,
        "task_in_use",
    )
    .await;
}

#[tokio::test]
async fn the_compilation_has_a_tasks_part_in_every_format() {
    let w = World::new().await;
    let (_, t2) = two_tasks(&w).await;
    let p = &w.open;
    let data = complete_report(p.window_start);
    let (_, etag) = w
        .draft(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), json!([{ "task": "III.1.1", "status": "in_progress", "note": "Đang trình ký quyết định." }])),
        )
        .await;
    w.transition(&w.reporter_a, p, "OFFICE-A", "submit", &etag, None)
        .await;
    let (_, etag) = w
        .draft(
            &w.reporter_b,
            p,
            "OFFICE-B",
            &with_tasks(
                data.clone(),
                json!([
                    { "task": "III.3", "status": "done", "note": "Đã giao dự toán." },
                    { "task": "III.1.1", "note": "Đã góp ý dự thảo." }
                ]),
            ),
        )
        .await;
    w.transition(&w.reporter_b, p, "OFFICE-B", "submit", &etag, None)
        .await;

    let path = format!("/api/v1/periods/{}/compilation?include=submitted", p.id);
    let res = w.get(&w.coordinator, &path).await;
    let etag = crate::fixtures::etag_of(&res);
    let c = json_of(res, 200).await;
    let part = &c["tasks"];
    assert_eq!(part["total"], 2, "{part}");
    let count = |s: &str| {
        part["by_status"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"] == s)
            .unwrap()["count"]
            .clone()
    };
    assert_eq!(
        (count("in_progress"), count("done"), count("not_reported")),
        (json!(1), json!(1), json!(0))
    );
    // Due five days ago and still in progress: overdue. Due next year: not.
    assert_eq!(part["overdue"], json!(["III.1.1"]));
    let t1 = &part["tasks"][0];
    assert_eq!(t1["code"], "III.1.1");
    assert_eq!(t1["overdue"], true);
    assert_eq!(t1["notes"][0]["unit"]["code"], "OFFICE-A");
    assert_eq!(t1["notes"][0]["lead"], true);
    assert_eq!(t1["notes"][1]["note"], "Đã góp ý dự thảo.");

    // Accepted only (the default): nothing is accepted yet, so no status is counted.
    let c = json_of(
        w.get(
            &w.coordinator,
            &format!("/api/v1/periods/{}/compilation", p.id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(c["tasks"]["by_status"][4]["status"], "not_reported");
    assert_eq!(c["tasks"]["by_status"][4]["count"], 2);

    // A changed task changes the compilation and its ETag.
    let t2_path = format!("{}/{}", tasks_path(&w), t2["id"].as_str().unwrap());
    json_of(
        w.req(&w.coordinator, Method::PUT, &t2_path)
            .json(&json!({ "code": "III.3", "title_vi": "Hướng dẫn bố trí kinh phí năm 2024", "lead_unit": "OFFICE-B" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let res = w.get(&w.coordinator, &path).await;
    assert_ne!(crate::fixtures::etag_of(&res), etag);
    let c = json_of(res, 200).await;
    assert_eq!(
        c["tasks"]["tasks"][1]["title_vi"],
        "Hướng dẫn bố trí kinh phí năm 2024"
    );

    let bytes = |format: &'static str| {
        let w = &w;
        let path = format!("{path}&format={format}");
        async move {
            let res = w.get(&w.coordinator, &path).await;
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap().to_vec()
        }
    };
    let csv = String::from_utf8(bytes("csv").await).unwrap();
    assert!(csv.contains("Nhiệm vụ - trạng thái"), "{csv}");
    assert!(
        csv.contains("III.1.1,Kiện toàn Ban Vì sự tiến bộ của phụ nữ,III.1,OFFICE-A"),
        "{csv}"
    );
    assert!(csv.contains("Quá hạn"));
    assert!(csv.contains("Đã góp ý dự thảo."));
    let xlsx = bytes("xlsx").await;
    let workbook = zip_part(&xlsx, "xl/workbook.xml");
    assert!(workbook.contains("Nhiệm vụ - ý kiến"), "{workbook}");
    let docx = bytes("docx").await;
    let doc = zip_part(&docx, "word/document.xml");
    assert!(doc.contains("Kết quả thực hiện các nhiệm vụ của Kế hoạch"));
    assert!(
        doc.contains("Nhiệm vụ quá hạn chưa hoàn thành: III.1.1."),
        "{doc}"
    );
    assert!(doc.contains("Đã giao dự toán."));
}

fn zip_part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// A PDF's first bytes, enough for the type to be decided from them.
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n";

fn attach(
    w: &World,
    who: &crate::fixtures::Caller,
    unit: &str,
    task: Option<&str>,
) -> reqwest::RequestBuilder {
    let task = task.map(|t| format!("&task={t}")).unwrap_or_default();
    w.req(
        who,
        Method::POST,
        &format!(
            "{}/attachments?kind=minutes&filename=bien-ban.pdf{task}",
            report_path(w.open.id, unit)
        ),
    )
    .header("content-type", "application/octet-stream")
    .body(PDF.to_vec())
}

#[tokio::test]
async fn files_document_a_units_progress_on_its_own_tasks() {
    let w = World::with(&[("GEREPORT_ATTACHMENT_STORE", "memory")]).await;
    two_tasks(&w).await;
    let p = &w.open;
    let data = complete_report(p.window_start);
    let progress = json!([{ "task": "III.1.1", "status": "in_progress" }]);
    let (_, etag_a) = w
        .draft(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), progress),
        )
        .await;
    let (_, _) = w.draft(&w.reporter_b, p, "OFFICE-B", &data).await;

    // Only a task the unit leads or helps with, by the rule progress entries follow.
    for (task, code) in [("III.3", "not_your_task"), ("NOPE", "unknown_task")] {
        let problem = w
            .refused(
                attach(&w, &w.reporter_a, "OFFICE-A", Some(task)),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(
            issues(&problem["errors"]),
            [issue("query.task", code, None)]
        );
    }

    let led = json_of(
        attach(&w, &w.reporter_a, "OFFICE-A", Some("III.1.1"))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(led["task"], "III.1.1");
    let whole = json_of(
        attach(&w, &w.reporter_a, "OFFICE-A", None)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(whole["task"], Value::Null);
    // A helper documents its part too; the lead's task of its own as well.
    let helped = json_of(
        attach(&w, &w.reporter_b, "OFFICE-B", Some("III.1.1"))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(helped["task"], "III.1.1");
    json_of(
        attach(&w, &w.reporter_b, "OFFICE-B", Some("III.3"))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;

    // Listed with their task, and by task.
    let w = &w;
    let list = |unit: &str, query: &str| {
        let path = format!("{}/attachments{query}", report_path(p.id, unit));
        async move { w.get(&w.coordinator, &path).await }
    };
    let all = json_of(list("OFFICE-A", "").await, 200).await;
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["task"], "III.1.1");
    let of_task = json_of(list("OFFICE-A", "?task=III.1.1").await, 200).await;
    assert_eq!(of_task["total"], 1);
    assert_eq!(of_task["items"][0]["id"], led["id"]);

    // A task with evidence attached is kept: III.3 has no progress entry anywhere, only
    // B's file.
    let t2 = json_of(w.get(&w.coordinator, &tasks_path(w)).await, 200).await;
    let t2_id = t2["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "III.3")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.refused(
        w.req(
            &w.coordinator,
            Method::DELETE,
            &format!("{}/{t2_id}", tasks_path(w)),
        ),
        409,
        "task_in_use",
    )
    .await;

    // Submitted with the report: the task's file is frozen with the revision.
    let (_, _) = w
        .transition(&w.reporter_a, p, "OFFICE-A", "submit", &etag_a, None)
        .await;
    let frozen = json_of(list("OFFICE-A", "?task=III.1.1").await, 200).await;
    assert_eq!(frozen["items"][0]["revision"], 1);
    w.refused(
        w.req(
            &w.reporter_a,
            Method::DELETE,
            &format!(
                "{}/attachments/{}",
                report_path(p.id, "OFFICE-A"),
                led["id"].as_str().unwrap()
            ),
        ),
        409,
        "attachment_frozen",
    )
    .await;
}

#[tokio::test]
async fn a_batch_of_figures_keeps_the_drafts_task_progress_unless_it_sends_some() {
    let w = World::new().await;
    two_tasks(&w).await;
    let p = &w.open;
    let data = complete_report(p.window_start);
    let progress =
        json!([{ "task": "III.1.1", "status": "in_progress", "note": "Đang trình ký." }]);
    let (_, etag) = w
        .draft(
            &w.reporter_a,
            p,
            "OFFICE-A",
            &with_tasks(data.clone(), progress.clone()),
        )
        .await;
    let batch = |body: Value| {
        w.req(
            &w.reporter_a,
            Method::POST,
            &format!("/api/v1/periods/{}/reports:batch", p.id),
        )
        .json(&body)
        .send()
    };
    let report = || async {
        json_of(
            w.get(&w.reporter_a, &report_path(p.id, "OFFICE-A")).await,
            200,
        )
        .await
    };

    // Figures only: the progress stays, and the submission that needs it goes through.
    let mut values = data["values"].clone();
    values["staff_total"] = json!(41);
    let done = json_of(
        batch(json!({ "items": [{
            "unit": "OFFICE-A", "if_match": etag, "values": values,
            "lists": data["lists"], "submit": true,
        }] }))
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(done["items"][0]["outcome"], "submitted", "{done}");
    let stored = report().await;
    assert_eq!(stored["data"]["tasks"], progress);
    assert_eq!(stored["data"]["values"]["staff_total"], 41);

    // Progress sent alone replaces the progress and leaves the figures (B's draft).
    let (_, etag) = w.draft(&w.reporter_b, p, "OFFICE-B", &data).await;
    let helper = json!([{ "task": "III.1.1", "note": "Đã góp ý dự thảo." }]);
    let res = w
        .req(
            &w.reporter_b,
            Method::POST,
            &format!("/api/v1/periods/{}/reports:batch", p.id),
        )
        .json(&json!({ "items": [{ "unit": "OFFICE-B", "if_match": etag, "tasks": helper }] }))
        .send()
        .await
        .unwrap();
    let done = json_of(res, 200).await;
    assert_eq!(done["items"][0]["outcome"], "updated", "{done}");
    let b = json_of(
        w.get(&w.reporter_b, &report_path(p.id, "OFFICE-B")).await,
        200,
    )
    .await;
    assert_eq!(b["data"]["tasks"], helper);
    assert_eq!(b["data"]["values"], data["values"]);
}
