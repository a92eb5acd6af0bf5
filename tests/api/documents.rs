//! Documents an office signs: document settings per issuing unit (defaults from the
//! tree), the compiled report shaped as an administrative report, and each unit's own
//! report as a document — checked part by part, without LibreOffice.

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Caller, connect, json_of, login};
use crate::helpers::{TestApp, assert_problem, spawn_app};

const DEMO_PASSWORD: &str = "demo-password-2024";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// The text area of an A4 page with the decree's margins, in twips.
const TEXT_WIDTH: u32 = 11906 - 1701 - 850;

struct Demo {
    app: TestApp,
    coordinator: Caller,
    half_year: String,
    year: String,
}

async fn demo() -> Demo {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let coordinator = login(&app, "coordinator", DEMO_PASSWORD).await;
    let period = |code: &str| {
        let req = app
            .client
            .get(app.url(&format!("/api/v1/periods?code={code}")))
            .bearer_auth(&coordinator.token);
        async move {
            json_of(req.send().await.unwrap(), 200).await["items"][0]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (half_year, year) = (period("2024S1").await, period("2024").await);
    Demo {
        app,
        coordinator,
        half_year,
        year,
    }
}

impl Demo {
    async fn get(&self, who: &Caller, path: &str) -> reqwest::Response {
        self.app
            .client
            .get(self.app.url(path))
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap()
    }

    async fn put_settings(&self, who: &Caller, unit: &str, body: &Value) -> reqwest::Response {
        self.app
            .client
            .request(
                Method::PUT,
                self.app
                    .url(&format!("/api/v1/org-units/{unit}/document-settings")),
            )
            .bearer_auth(&who.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The DOCX at `path`: its document part, its styles, and its ETag.
    async fn docx(&self, who: &Caller, path: &str) -> (String, String, String) {
        let res = self.get(who, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], DOCX);
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = res.bytes().await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).unwrap();
        let mut read = |name: &str| {
            let mut s = String::new();
            zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        (read("word/document.xml"), read("word/styles.xml"), etag)
    }
}

/// Every needle, in this order.
fn in_order(doc: &str, needles: &[&str]) {
    let mut from = 0;
    for n in needles {
        match doc[from..].find(n) {
            Some(i) => from += i + n.len(),
            None => panic!("{n:?} missing, or not after the text before it"),
        }
    }
}

/// The page and its tables: A4, the decree's margins, Times New Roman, and no table
/// wider than the text area.
fn laid_out_as_the_decree_asks(doc: &str, styles: &str) {
    assert!(doc.contains(r#"<w:pgSz w:w="11906" w:h="16838"/>"#));
    assert!(doc.contains(r#"w:top="1134" w:right="850" w:bottom="1134" w:left="1701""#));
    assert!(styles.contains("Times New Roman"));
    let widths: Vec<u32> = doc
        .split(r#"<w:tblW w:w=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert!(!widths.is_empty());
    assert!(widths.iter().all(|w| *w <= TEXT_WIDTH), "{widths:?}");
}

fn settings_body() -> Value {
    json!({
        "superior_body": "Sở Văn hóa và Thể thao",
        "issuing_body": "Nhà hát Chèo Hà Nội",
        "abbreviation": "NHC",
        "place": "Hà Nội",
        "signer_authority": "",
        "signer_title": "Giám đốc",
        "signer_name": "Nguyễn Văn Minh",
        "recipients": ["Sở Văn hóa và Thể thao (qua Phòng XDNS)", "Ban Giám đốc Nhà hát"],
        "drafting_unit": "HCTH",
    })
}

#[tokio::test]
async fn document_settings_default_from_the_tree_and_are_kept_per_unit() {
    let d = demo().await;
    let c = &d.coordinator;
    let dept = json_of(
        d.get(c, "/api/v1/org-units/SVHTT/document-settings").await,
        200,
    )
    .await;
    assert_eq!(dept["is_default"], false, "the demo sets the Department's");
    assert_eq!(dept["superior_body"], "UBND THÀNH PHỐ HÀ NỘI");
    assert_eq!(dept["signer_authority"], "KT. GIÁM ĐỐC");
    assert_eq!(dept["drafting_unit"], "XDNS");

    let theatre = json_of(
        d.get(c, "/api/v1/org-units/NHCHEO/document-settings").await,
        200,
    )
    .await;
    assert_eq!(theatre["is_default"], true);
    assert_eq!(
        theatre["superior_body"], "SỞ VĂN HÓA VÀ THỂ THAO",
        "its parent"
    );
    assert_eq!(theatre["issuing_body"], "NHÀ HÁT CHÈO");
    assert_eq!(theatre["abbreviation"], "NHCHEO");
    assert_eq!(theatre["signer_title"], "GIÁM ĐỐC");
    assert_eq!(theatre["recipients"], json!(["Sở Văn hóa và Thể thao"]));

    // A reporter reads its unit's, not another's, and sets none.
    let reporter = login(&d.app, "nhcheo", DEMO_PASSWORD).await;
    assert_eq!(
        d.get(&reporter, "/api/v1/org-units/NHCHEO/document-settings")
            .await
            .status(),
        200
    );
    assert_problem(
        d.get(&reporter, "/api/v1/org-units/TVHN/document-settings")
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        d.put_settings(&reporter, "NHCHEO", &settings_body()).await,
        403,
        "forbidden",
    )
    .await;

    // Refused values name their fields, and nothing is stored.
    let mut bad = settings_body();
    bad["abbreviation"] = json!("NH CHEO");
    bad["issuing_body"] = json!("  ");
    let problem = assert_problem(
        d.put_settings(c, "NHCHEO", &bad).await,
        422,
        "validation_failed",
    )
    .await;
    let mut paths: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["body.abbreviation", "body.issuing_body"]);
    let still = json_of(
        d.get(c, "/api/v1/org-units/NHCHEO/document-settings").await,
        200,
    )
    .await;
    assert_eq!(still["is_default"], true);

    let set = json_of(d.put_settings(c, "NHCHEO", &settings_body()).await, 200).await;
    assert_eq!(set["is_default"], false);
    assert_eq!(set["signer_name"], "Nguyễn Văn Minh");
    assert_eq!(set["updated_by"], "coordinator");
    let audited = d
        .app
        .db_i64(
            "SELECT count(*) AS n FROM audit_events WHERE action = 'org_unit.document_settings'",
        )
        .await;
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_compiled_report_is_a_document_the_office_can_sign() {
    let d = demo().await;
    let c = &d.coordinator;
    let path = format!("/api/v1/periods/{}/compilation?format=docx", d.half_year);
    let (doc, styles, undated) = d.docx(c, &path).await;
    laid_out_as_the_decree_asks(&doc, &styles);
    in_order(
        &doc,
        &[
            "UBND THÀNH PHỐ HÀ NỘI",
            "SỞ VĂN HÓA VÀ THỂ THAO",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Số: …/BC-SVHTT",
            "Hà Nội, ngày … tháng … năm …",
            ">BÁO CÁO<",
            "Thực hiện Kế hoạch số 39/KH-UBND ngày 29/01/2024 của UBND Thành phố",
            "Kế hoạch ngày 15/3/2024 của Sở Văn hóa và Thể thao về thực hiện công tác bình đẳng giới",
            "I. KẾT QUẢ THỰC HIỆN",
            "1. Tình hình thực hiện chế độ báo cáo",
            "2. Kết quả thực hiện các chỉ tiêu",
            "Tử số / mẫu số",
            "3. Một số số liệu chủ yếu",
            "Số liệu phân tách theo giới tính",
            "Các số liệu khác",
            "Số cuộc họp của Ban trong kỳ",
            "Kinh phí được bố trí",
            "Các hoạt động đã tổ chức theo loại hình",
            "4. Kết quả thực hiện các nhiệm vụ của Kế hoạch",
            "II. ĐÁNH GIÁ CHUNG",
            "Tồn tại, hạn chế và nguyên nhân",
            "III. NHIỆM VỤ TRỌNG TÂM KỲ TỚI",
            "IV. KIẾN NGHỊ, ĐỀ XUẤT",
            "./.",
            "Nơi nhận:",
            "- UBND Thành phố;",
            "- Lưu: VT, XDNS.",
            "KT. GIÁM ĐỐC",
            "PHÓ GIÁM ĐỐC",
            "Trần Thị Vân Anh",
            "PHỤ LỤC",
        ],
    );
    assert_eq!(doc.matches("KIẾN NGHỊ").count(), 1, "proposals once");
    for gone in [
        "(ký, ghi rõ họ tên)",
        "số /KH",
        "năm 2026",
        "tại thời điểm cuối kỳ",
    ] {
        assert!(!doc.contains(gone), "{gone}");
    }

    // Dated on request, under another tag.
    let (dated, _, tag) = d.docx(c, &format!("{path}&date=2024-11-25")).await;
    assert!(dated.contains("Hà Nội, ngày 25 tháng 11 năm 2024"));
    assert_ne!(tag, undated);

    // New settings: the same data prints another signer, under another tag.
    let mut body = settings_body();
    body["superior_body"] = json!("UBND Thành phố Hà Nội");
    body["issuing_body"] = json!("Sở Văn hóa và Thể thao");
    body["abbreviation"] = json!("SVHTT");
    body["signer_authority"] = json!("KT. Giám đốc");
    body["signer_title"] = json!("Phó Giám đốc");
    body["signer_name"] = json!("Lê Thị Hoa");
    assert_eq!(d.put_settings(c, "SVHTT", &body).await.status(), 200);
    let res = d
        .app
        .client
        .get(d.app.url(&path))
        .bearer_auth(&c.token)
        .header("if-none-match", &undated)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the settings are part of the tag");
    let (doc, _, _) = d.docx(c, &path).await;
    assert!(doc.contains("Lê Thị Hoa") && doc.contains("- Lưu: VT, HCTH."));

    // The Chèo theatre's own compilation has its parent above it, not the city.
    let (theatre, _, _) = d.docx(c, &format!("{path}&unit=NHCHEO")).await;
    in_order(
        &theatre,
        &["SỞ VĂN HÓA VÀ THỂ THAO", "NHÀ HÁT CHÈO", "Số: …/BC-NHCHEO"],
    );
    assert!(!theatre.contains("UBND THÀNH PHỐ"));
}

#[tokio::test]
async fn each_unit_gets_its_own_report_as_a_document_to_sign() {
    let d = demo().await;
    let reporter = login(&d.app, "nhcheo", DEMO_PASSWORD).await;
    let report_path = format!("/api/v1/periods/{}/reports/NHCHEO", d.half_year);
    let report = json_of(d.get(&reporter, &report_path).await, 200).await;
    let staff =
        gereport::compile::docx::number(report["data"]["values"]["staff_total"].as_f64().unwrap());

    let (doc, styles, _) = d.docx(&reporter, &format!("{report_path}/document")).await;
    laid_out_as_the_decree_asks(&doc, &styles);
    in_order(
        &doc,
        &[
            "SỞ VĂN HÓA VÀ THỂ THAO",
            "NHÀ HÁT CHÈO",
            "Số: …/BC-NHCHEO",
            "Hà Nội, ngày … tháng … năm …",
            ">BÁO CÁO<",
            "Thực hiện Kế hoạch số 39/KH-UBND",
            "Nhà hát Chèo báo cáo",
            "I. CÁN BỘ VÀ LÃNH ĐẠO",
            "Tổng số cán bộ, công chức, viên chức và người lao động",
            staff.as_str(),
            "II. ĐÀO TẠO, BỒI DƯỠNG TRONG KỲ",
            "IV. BAN VÌ SỰ TIẾN BỘ CỦA PHỤ NỮ",
            "Kết quả đạt được:",
            "./.",
            "Nơi nhận:",
            "- Sở Văn hóa và Thể thao;",
            "- Lưu: VT.",
            "GIÁM ĐỐC",
        ],
    );

    // Coordinators above it get it too; a peer unit's reporter does not.
    assert_eq!(
        d.get(&d.coordinator, &format!("{report_path}/document"))
            .await
            .status(),
        200
    );
    let peer = login(&d.app, "tvhn", DEMO_PASSWORD).await;
    assert_problem(
        d.get(&peer, &format!("{report_path}/document")).await,
        404,
        "not_found",
    )
    .await;

    // A unit that has not started its report gets the form to fill in on paper.
    let empty = d
        .app
        .db_text(&format!(
            "SELECT u.code AS t FROM org_units u WHERE u.depth = 1 AND NOT EXISTS \
             (SELECT 1 FROM reports r WHERE r.unit_id = u.id AND r.period_id = '{}') \
             ORDER BY u.code LIMIT 1",
            d.year
        ))
        .await;
    let (blank, _, _) = d
        .docx(
            &d.coordinator,
            &format!("/api/v1/periods/{}/reports/{empty}/document", d.year),
        )
        .await;
    assert!(blank.contains("(Dự thảo, chưa nộp)") && blank.contains("—"));
}

#[tokio::test]
async fn the_compilation_counts_yes_answers_and_activities_by_topic() {
    let d = demo().await;
    let c = &d.coordinator;
    let path = format!("/api/v1/periods/{}/compilation", d.half_year);
    let comp = json_of(d.get(c, &path).await, 200).await;
    // By hand, over the accepted reports' documents.
    let counted = |sql: &str| {
        let sql = sql.replace("$P", &d.half_year);
        let app = &d.app;
        async move { app.db_i64(&sql).await }
    };
    let yes = counted(
        "SELECT count(*) AS n FROM reports WHERE period_id = '$P' AND status = 'accepted' \
         AND data->'values'->'committee_in_place' = 'true'::jsonb",
    )
    .await;
    let answered = counted(
        "SELECT count(*) AS n FROM reports WHERE period_id = '$P' AND status = 'accepted' \
         AND jsonb_typeof(data->'values'->'committee_in_place') = 'boolean'",
    )
    .await;
    let flag = comp["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "committee_in_place")
        .unwrap();
    assert!(answered > 0);
    assert_eq!(
        (flag["yes"].as_i64(), flag["answered"].as_i64()),
        (Some(yes), Some(answered))
    );

    let law = counted(
        "SELECT count(*) AS n FROM reports r, jsonb_array_elements(r.data->'lists'->'activities') a \
         WHERE r.period_id = '$P' AND r.status = 'accepted' AND a->'topics' ? 'law_gender_equality'",
    )
    .await;
    let topics = comp["topics"].as_array().unwrap();
    assert!(!topics.is_empty());
    let by_law = topics.iter().find(|t| t["type"] == "law_gender_equality");
    assert_eq!(by_law.map_or(0, |t| t["count"].as_i64().unwrap()), law);

    let (doc, _, _) = d.docx(c, &format!("{path}?format=docx")).await;
    assert!(doc.contains("Các hoạt động theo chủ đề"));
    assert!(doc.contains(&format!("{yes}/{answered} báo cáo")));
}
