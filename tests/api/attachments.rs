//! Attachments: streamed uploads typed by their bytes, kept in the object store (a
//! local directory here, and the in-memory store standing in for S3), frozen with the
//! revision on submission, downloaded as they were, swept when their row never
//! committed.

use std::path::PathBuf;

use reqwest::Method;
use sha2::{Digest, Sha256};

use crate::fixtures::{Caller, World, complete_report, json_of, report_path};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";

/// A directory of its own for one test's store.
fn store_dir() -> PathBuf {
    std::env::temp_dir().join(format!("gereport-attachments-{}", uuid::Uuid::now_v7()))
}

/// Every file under `dir`.
fn files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn upload(
    w: &World,
    who: &Caller,
    unit: &str,
    kind: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> reqwest::RequestBuilder {
    let name: String = url::form_urlencoded::byte_serialize(filename.as_bytes()).collect();
    w.req(
        who,
        Method::POST,
        &format!(
            "{}/attachments?kind={kind}&filename={name}",
            report_path(w.open.id, unit)
        ),
    )
    .header("content-type", "application/octet-stream")
    .body(bytes)
}

fn attachment_path(w: &World, unit: &str, id: &str) -> String {
    format!("{}/attachments/{id}", report_path(w.open.id, unit))
}

#[tokio::test]
async fn a_signed_scan_is_kept_listed_downloaded_and_frozen_with_the_revision() {
    let dir = store_dir();
    let w = World::with(&[("GEREPORT_ATTACHMENT_DIR", dir.to_str().unwrap())]).await;
    // No report yet: nothing to attach to.
    w.refused(
        upload(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            "signed_report",
            "a.pdf",
            PDF.to_vec(),
        ),
        404,
        "report_not_started",
    )
    .await;
    let (_, etag) = w
        .draft(
            &w.reporter_a,
            &w.open,
            "OFFICE-A",
            &complete_report(w.open.window_start),
        )
        .await;

    let name = "C:\\Scans\\Báo cáo có chữ ký.pdf";
    let res = upload(
        &w,
        &w.reporter_a,
        "OFFICE-A",
        "signed_report",
        name,
        PDF.to_vec(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let signed = json_of(res, 201).await;
    assert_eq!(signed["file_name"], "Báo cáo có chữ ký.pdf", "never a path");
    assert_eq!(signed["content_type"], "application/pdf");
    assert_eq!(signed["size_bytes"], PDF.len());
    assert_eq!(signed["sha256"], hex::encode(Sha256::digest(PDF)));
    assert_eq!(signed["revision"], serde_json::Value::Null);
    assert_eq!(signed["href"], location);
    let id = signed["id"].as_str().unwrap().to_string();
    // Stored under ids, in the configured directory, before the answer.
    let stored = files_in(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].ends_with(&id), "{stored:?}");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), PDF);

    // The file comes back as it went, typed, named and not to be sniffed.
    let res = w.get(&w.viewer, &location).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"")
            && disposition.ends_with(
                "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20c%C3%B3%20ch%E1%BB%AF%20k%C3%BD.pdf"
            ),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF);

    // Minutes, attached and removed again while the report is a draft.
    let res = upload(
        &w,
        &w.reporter_a,
        "OFFICE-A",
        "minutes",
        "bien-ban.png",
        PNG.to_vec(),
    )
    .send()
    .await
    .unwrap();
    let minutes = json_of(res, 201).await;
    assert_eq!(minutes["content_type"], "image/png");
    let minutes_id = minutes["id"].as_str().unwrap();
    let res = w
        .req(
            &w.reporter_a,
            Method::DELETE,
            &attachment_path(&w, "OFFICE-A", minutes_id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(files_in(&dir).len(), 1, "its file went with it");
    let list = json_of(
        w.get(
            &w.reporter_a,
            &format!("{}/attachments", report_path(w.open.id, "OFFICE-A")),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 1, "{list}");

    // A peer unit sees nothing of it.
    for path in [
        format!("{}/attachments", report_path(w.open.id, "OFFICE-A")),
        location.clone(),
    ] {
        assert_eq!(w.get(&w.reporter_b, &path).await.status(), 404);
    }
    w.refused(
        w.req(&w.reporter_b, Method::DELETE, &location),
        404,
        "not_found",
    )
    .await;
    w.refused(
        upload(
            &w,
            &w.reporter_b,
            "OFFICE-A",
            "other",
            "x.pdf",
            PDF.to_vec(),
        ),
        404,
        "not_found",
    )
    .await;

    // Submitting freezes it with revision 1: never removed after that, and the
    // submitted report takes no new files.
    w.transition(&w.reporter_a, &w.open, "OFFICE-A", "submit", &etag, None)
        .await;
    let list = json_of(
        w.get(
            &w.coordinator,
            &format!("{}/attachments", report_path(w.open.id, "OFFICE-A")),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(list["items"][0]["revision"], 1, "{list}");
    w.refused(
        w.req(&w.reporter_a, Method::DELETE, &location),
        409,
        "attachment_frozen",
    )
    .await;
    w.refused(
        upload(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            "other",
            "late.pdf",
            PDF.to_vec(),
        ),
        409,
        "not_editable",
    )
    .await;
    assert_eq!(files_in(&dir).len(), 1);

    // The compilation says which units have their signed report attached.
    let res = w
        .get(
            &w.coordinator,
            &format!(
                "/api/v1/periods/{}/compilation?include=submitted",
                w.open.id
            ),
        )
        .await;
    let compiled = json_of(res, 200).await;
    let signed: Vec<&str> = compiled["completeness"]["units"]["signed_report_attached"]
        .as_array()
        .unwrap_or_else(|| panic!("{compiled}"))
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(signed, ["OFFICE-A"], "{}", compiled["completeness"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn files_of_other_types_or_too_large_are_refused_and_not_kept() {
    let dir = store_dir();
    let w = World::with(&[
        ("GEREPORT_ATTACHMENT_DIR", dir.to_str().unwrap()),
        ("GEREPORT_ATTACHMENT_MAX_BYTES", "2048"),
    ])
    .await;
    w.draft(
        &w.reporter_a,
        &w.open,
        "OFFICE-A",
        &complete_report(w.open.window_start),
    )
    .await;
    let mut zip_of_nothing = b"PK\x03\x04\x14\0\0\0\0\0notes.txt".to_vec();
    zip_of_nothing.extend_from_slice(&[b' '; 100]);
    for (bytes, what) in [
        (b"MZ\x90\0\x03\0\0\0\x04\0\0\0".to_vec(), "a program"),
        (
            b"<html><script>alert(1)</script></html>".to_vec(),
            "a web page",
        ),
        (zip_of_nothing, "a zip that is no office file"),
    ] {
        let problem = w
            .refused(
                upload(
                    &w,
                    &w.reporter_a,
                    "OFFICE-A",
                    "other",
                    "evidence.pdf",
                    bytes,
                ),
                415,
                "unsupported_file_type",
            )
            .await;
        assert!(
            problem["detail"].as_str().unwrap().contains("PDF"),
            "{what}: {problem}"
        );
    }
    let mut big = PDF.to_vec();
    big.extend(std::iter::repeat_n(b'%', 4096));
    w.refused(
        upload(&w, &w.reporter_a, "OFFICE-A", "other", "big.pdf", big),
        413,
        "body_too_large",
    )
    .await;
    w.refused(
        upload(&w, &w.reporter_a, "OFFICE-A", "other", "../", PDF.to_vec()),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        upload(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            "other",
            "empty.pdf",
            Vec::new(),
        ),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        w.req(
            &w.reporter_a,
            Method::POST,
            &format!(
                "{}/attachments?kind=photo&filename=a.pdf",
                report_path(w.open.id, "OFFICE-A")
            ),
        )
        .body(PDF),
        400,
        "invalid_query",
    )
    .await;
    // A viewer reads but never writes.
    w.refused(
        upload(&w, &w.viewer, "OFFICE-A", "other", "a.pdf", PDF.to_vec()),
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        files_in(&dir),
        Vec::<PathBuf>::new(),
        "nothing refused is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_in_memory_store_stands_in_for_s3() {
    let w = World::with(&[("GEREPORT_ATTACHMENT_STORE", "memory")]).await;
    w.draft(
        &w.reporter_a,
        &w.open,
        "OFFICE-A",
        &complete_report(w.open.window_start),
    )
    .await;
    // A real XLSX (the report's own workbook) and a DOCX are told apart by their parts.
    let xlsx = w
        .get(
            &w.reporter_a,
            &format!("{}/template.xlsx", report_path(w.open.id, "OFFICE-A")),
        )
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut docx = b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0[Content_Types].xml".to_vec();
    docx.extend_from_slice(b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0word/document.xml<w:document/>");
    for (bytes, name, media) in [
        (xlsx, "so-lieu.xlsx", gereport::sheets::XLSX),
        (
            docx,
            "quyet-dinh.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ] {
        let res = upload(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            "decision",
            name,
            bytes.clone(),
        )
        .send()
        .await
        .unwrap();
        let a = json_of(res, 201).await;
        assert_eq!(a["content_type"], media, "{name}");
        let res = w.get(&w.coordinator, a["href"].as_str().unwrap()).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], media);
        assert_eq!(res.bytes().await.unwrap().to_vec(), bytes, "{name}");
    }
}

#[tokio::test]
async fn files_whose_row_never_committed_are_swept() {
    let dir = store_dir();
    let settings = [("GEREPORT_ATTACHMENT_DIR", dir.to_str().unwrap())];
    let w = World::with(&settings).await;
    w.draft(
        &w.reporter_a,
        &w.open,
        "OFFICE-A",
        &complete_report(w.open.window_start),
    )
    .await;
    let res = upload(
        &w,
        &w.reporter_a,
        "OFFICE-A",
        "signed_report",
        "a.pdf",
        PDF.to_vec(),
    )
    .send()
    .await
    .unwrap();
    let kept = json_of(res, 201).await;
    // A file stored by an upload whose transaction then failed.
    let orphan = dir
        .join("attachments")
        .join(uuid::Uuid::now_v7().to_string())
        .join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, PDF).unwrap();

    let settings = crate::helpers::test_settings(&w.app.db.url, &settings);
    let store = gereport::attachments::storage(&settings.files).unwrap();
    let mut conn = crate::fixtures::connect(&w.app).await;
    // Within the grace period nothing goes; past it, only the orphan.
    let removed = gereport::attachments::sweep_orphans(
        &mut conn,
        store.as_ref(),
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(removed, 0);
    let removed =
        gereport::attachments::sweep_orphans(&mut conn, store.as_ref(), std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(removed, 1);
    assert!(!orphan.exists());
    let res = w.get(&w.reporter_a, kept["href"].as_str().unwrap()).await;
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        PDF,
        "the attached file stays"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
