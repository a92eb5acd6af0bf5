//! The checked-in OpenAPI document must match what the code generates.

const REGENERATE: &str = "cargo run --quiet -- openapi > openapi/openapi.json";

#[test]
fn checked_in_openapi_document_matches_the_code() {
    let generated = gereport::openapi::document_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    if generated != checked_in {
        let line = generated
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or_else(|| generated.lines().count().min(checked_in.lines().count()) + 1);
        panic!(
            "openapi/openapi.json differs from the document the code generates (first at line {line}).\n\
             Regenerate it with:\n\n    {REGENERATE}\n\nand commit the result."
        );
    }
}

#[test]
fn every_operation_documents_its_errors_and_security() {
    let doc: serde_json::Value =
        serde_json::from_str(&gereport::openapi::document_json().unwrap()).unwrap();
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/token",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|k| k.starts_with('2') || k.starts_with('3')),
                "{method} {path} has no success response"
            );
            for code in ["400", "500", "503"] {
                assert!(responses.contains_key(code), "{method} {path} lacks {code}");
            }
            if !public.contains(&path.as_str()) {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                assert!(op["security"].is_array(), "{method} {path} lacks security");
            }
            if method == "post" {
                let takes_key = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
                });
                assert!(
                    takes_key,
                    "{method} {path} does not document Idempotency-Key"
                );
                for code in ["409", "422"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
                let replay_marked = responses
                    .iter()
                    .filter(|(k, _)| k.starts_with('2'))
                    .all(|(_, r)| r["headers"]["Idempotent-Replayed"].is_object());
                assert!(replay_marked, "{method} {path} lacks Idempotent-Replayed");
            }
        }
    }
}
