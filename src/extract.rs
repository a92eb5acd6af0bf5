//! Request extractors that name the failing field.
//!
//! actix-web's own `Json` and `Query` hand serde's message to the client as it is
//! ("unknown variant `x` … at line 1 column 47", "Query deserialize error: …") and
//! cannot say which member was wrong. These deserialize through `serde_path_to_error`,
//! so every problem names its path (`body.role`, `query.limit`), and the message is
//! serde's own sentence without the parser's position.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Issue};

/// A JSON request body (`application/json` or any `+json` type).
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The media type of a request's body, lower case, without parameters ("" when none).
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(req: &HttpRequest) -> bool {
    let essence = media_type(req);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let settings = req
            .app_data::<web::Data<crate::AppState>>()
            .map(|s| (s.settings.body_limit, s.settings.body_timeout));
        let limit = settings.map(|s| s.0);
        let timeout = settings.map_or(std::time::Duration::from_secs(30), |s| s.1);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON (Content-Type: application/json)",
                )
                .vi("Nội dung yêu cầu phải là JSON (Content-Type: application/json)")
                .into());
            }
            let bytes = tokio::time::timeout(timeout, bytes)
                .await
                .map_err(|_| body_timeout(timeout))?;
            let bytes = bytes.map_err(|_| {
                let limit = limit.map_or(String::new(), |l| format!(" of {l} bytes"));
                actix_web::Error::from(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is larger than the limit{limit}"),
                ))
            })?;
            parse_json(&bytes).map(Json).map_err(Into::into)
        })
    }
}

/// A body sent half-way and then left: the connection is not held for ever.
pub fn body_timeout(after: std::time::Duration) -> actix_web::Error {
    body_timeout_problem(after).into()
}

/// A body past its limit, for handlers that read their body themselves.
pub fn body_too_large_problem(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than the limit of {limit} bytes"),
    )
    .vi(format!(
        "Dung lượng tệp vượt quá giới hạn {limit} byte cho phép"
    ))
}

/// The problem of [`body_timeout`], for handlers that read their body themselves.
pub fn body_timeout_problem(after: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "the request body did not arrive within {} seconds",
            after.as_secs()
        ),
    )
}

/// Deserializes a JSON body, naming the failing member; also for handlers that take
/// an optional body as bytes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request(
            "malformed_json",
            format!(
                "the body is not valid JSON: {}",
                without_position(&e.to_string())
            ),
        )
        .vi("Nội dung yêu cầu không phải JSON hợp lệ")
    };
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            let message = without_position(&inner.to_string());
            field_issue("body", &path, &message)
        } else {
            malformed(&inner)
        }
    })?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            parse_query(req.query_string())
                .map(Query)
                .map_err(Into::into),
        )
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = without_position(&e.into_inner().to_string());
        let mut err = field_issue("query", &path, &message);
        // A query that does not fit is a malformed request, not a rule broken by a value.
        err.status = StatusCode::BAD_REQUEST;
        err.code = "invalid_query";
        err
    })
}

/// One issue for a member serde refused. The issue code says what kind of refusal it
/// was; for a missing or unknown member, serde names it in the message, not the path.
fn field_issue(root: &str, path: &str, message: &str) -> ApiError {
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|f| !f.is_empty() && f.len() < 64);
    let quoted = quoted.filter(|_| message.starts_with("missing field `"));
    let (code, member) = if message.starts_with("missing field `") {
        ("missing_field", quoted)
    } else if message.starts_with("unknown field `") {
        // (serde_path_to_error's path already ends in an unknown member's name.)
        ("unknown_field", None)
    } else if message.starts_with("duplicate field `") {
        ("duplicate", None)
    } else if message.starts_with("unknown variant `") {
        ("unknown_variant", None)
    } else if message.starts_with("invalid type") {
        ("wrong_type", None)
    } else {
        ("invalid_value", None)
    };
    let mut full = root.to_string();
    if path != "." && !path.is_empty() {
        full.push('.');
        full.push_str(path);
    }
    if let Some(m) = member {
        full.push('.');
        full.push_str(m);
    }
    ApiError::validation(
        format!("{full}: {message}"),
        vec![Issue::new(&full, code, message)],
    )
}

/// serde_json ends data errors with " at line 1 column 47", which means nothing to a
/// person filling in a form.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        role: crate::auth::policy::Role,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    fn issue(e: &ApiError) -> (&str, &str, &str) {
        let i = &e.errors[0];
        (i.path.as_str(), i.code.as_str(), i.message.as_str())
    }

    #[test]
    fn body_problems_name_the_member_without_positions() {
        let e = parse_json::<Body>(br#"{"role": "root"}"#)
            .err()
            .into_iter()
            .next();
        let e = e.as_ref().map(issue);
        let (path, code, message) = e.unwrap_or_default();
        assert_eq!((path, code), ("body.role", "unknown_variant"));
        assert!(
            message.contains("admin") && !message.contains("line"),
            "{message}"
        );

        let e = parse_json::<Body>(br#"{"role": "admin", "inner": {"n": "x"}}"#).err();
        assert_eq!(
            e.as_ref().map(issue).map(|i| (i.0, i.1)),
            Some(("body.inner.n", "wrong_type"))
        );
        let e = parse_json::<Body>(br#"{"inner": null}"#).err();
        assert_eq!(
            e.as_ref().map(issue).map(|i| (i.0, i.1)),
            Some(("body.role", "missing_field"))
        );
        let e = parse_json::<Body>(br#"{"role": "admin", "status": 1}"#).err();
        assert_eq!(
            e.as_ref().map(issue).map(|i| (i.0, i.1)),
            Some(("body.status", "unknown_field"))
        );
        let e = parse_json::<Body>(b"{").err();
        assert_eq!(e.map(|e| e.code), Some("malformed_json"));
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<i64>,
    }

    #[test]
    fn query_problems_name_the_parameter() {
        let e = parse_query::<Q>("limit=ten").err();
        let e = e.as_ref();
        assert_eq!(e.map(|e| e.code), Some("invalid_query"));
        assert_eq!(e.map(|e| e.errors[0].path.as_str()), Some("query.limit"));
        assert!(e.is_some_and(|e| !e.detail.contains("Query deserialize")));
        assert!(parse_query::<Q>("limit=5").is_ok());
    }
}

/// A JSON integer member that also takes a number written with a zero fraction
/// (`2024.0`): JSON Schema counts it as an integer, and so do clients that hold every
/// number as a float. `2024.5` is still refused.
pub mod whole {
    use serde::de::{self, Deserializer, Visitor};

    struct WholeI32;

    impl Visitor<'_> for WholeI32 {
        type Value = i32;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<i32, E> {
            let fits = v.fract() == 0.0 && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX);
            if !fits {
                return Err(E::invalid_value(de::Unexpected::Float(v), &self));
            }
            #[allow(clippy::cast_possible_truncation)]
            Ok(v as i32)
        }
    }

    pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        d.deserialize_any(WholeI32)
    }

    /// A list of whole numbers, each as [`i32`] takes it.
    pub fn vec_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = Vec<i32>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of whole numbers")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<i32>, A::Error> {
                struct One(i32);
                impl<'de> serde::Deserialize<'de> for One {
                    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                        super::whole::i32(d).map(One)
                    }
                }
                let mut out = Vec::new();
                while let Some(One(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Seq)
    }

    /// For an optional member: give it `#[serde(default)]` as well.
    pub fn option_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
        struct Opt;
        impl<'de> Visitor<'de> for Opt {
            type Value = Option<i32>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::whole::i32(d).map(Some)
            }
        }
        d.deserialize_option(Opt)
    }
}
