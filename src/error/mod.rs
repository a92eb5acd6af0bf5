//! The one error type of the service and its rendering as RFC 9457 problem details.
//!
//! Handlers and stores return `Result<_, ApiError>` and use `?`; database and pool
//! errors are mapped here, in one place. The request middleware (`telemetry`) fills in
//! `instance` and `request_id`, which the error itself cannot know.

pub mod lang;
pub mod texts;

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub use lang::Lang;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `Content-Type` problems are sent with. The charset is spelled out because
/// clients that only know `application/json` as UTF-8 otherwise guess the encoding
/// of a problem body, and a guess such as Shift_JIS corrupts a non-ASCII `detail`.
pub const PROBLEM_JSON_UTF8: &str = "application/problem+json; charset=utf-8";

/// One problem with one value: `path` points into the request (`values.staff_female`,
/// `lists.activities[2].date`, `body.username`, `query.limit`).
#[derive(Serialize, serde::Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct Issue {
    pub path: String,
    /// Stable machine code: `unknown_field`, `wrong_type`, `invalid_date`, `out_of_range`,
    /// `too_long`, `unknown_option`, `duplicate_option`, `too_many_items`, `required`,
    /// `rule_failed` for report values; `empty`, `invalid_code`, `duplicate_code`,
    /// `unknown_reference`, `type_mismatch`, `invalid_bounds`, `missing_options`,
    /// `unexpected_options`, `invalid_pair` for form definitions; others for requests.
    pub code: String,
    /// English message.
    pub message: String,
    #[serde(default)]
    pub message_vi: Option<String>,
    /// The form rule (or sex pair) that produced this issue, when one did.
    #[serde(default)]
    pub rule: Option<String>,
}

impl Issue {
    pub fn new(
        path: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Issue {
            path: path.into(),
            code: code.into(),
            message: message.into(),
            message_vi: None,
            rule: None,
        }
    }

    pub fn vi(mut self, message_vi: impl Into<String>) -> Self {
        self.message_vi = Some(message_vi.into());
        self
    }

    pub fn with_rule(mut self, rule: &str) -> Self {
        self.rule = Some(rule.to_owned());
        self
    }
}

/// An RFC 9457 problem document, as every error response carries it. Its schema in
/// the OpenAPI document is written out in `crate::openapi::problem_schema`, so that
/// `code` is the closed list of `texts::PROBLEMS` and every extra member is typed.
#[derive(Serialize, Debug)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:gereport:problem:<code>`).
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request path the problem occurred on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Stable machine-readable code; clients branch on this, not on `detail`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every failing field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Issue>,
    /// Extra members specific to a code, e.g. `current_status` for illegal transitions.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::problem_schema()
    }
}

impl ToSchema for Problem {}

/// The error every handler returns; boxed so `Result`s stay small on the happy path.
pub struct ApiError(Box<ApiErrorData>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorData;
    fn deref(&self) -> &ApiErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorData {
        &mut self.0
    }
}

pub struct ApiErrorData {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// The same detail in Vietnamese, when the site that raised it wrote one; otherwise
    /// a Vietnamese reader gets the code's general sentence from `texts`.
    pub detail_vi: Option<String>,
    pub errors: Vec<Issue>,
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The underlying cause of a 5xx, logged but never shown to the client.
    pub source: Option<anyhow::Error>,
    /// The database connection broke under the request (a restart, a failover): a
    /// read may be tried again at once on a fresh connection (`db::retry_lost_reads`).
    pub connection_lost: bool,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError(Box::new(ApiErrorData {
            status,
            code,
            detail: detail.into(),
            detail_vi: None,
            errors: Vec::new(),
            extra: serde_json::Map::new(),
            headers: Vec::new(),
            source: None,
            connection_lost: false,
        }))
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// A request that is well-formed but whose values break the rules; names every field.
    pub fn validation(detail: impl Into<String>, errors: Vec<Issue>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(errors)
    }

    /// One invalid field.
    pub fn invalid_field(path: &str, code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::validation(
            format!("{path}: {message}"),
            vec![Issue::new(path, code, message)],
        )
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(
            actix_web::http::header::WWW_AUTHENTICATE,
            "Bearer realm=\"gereport\"",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// Used both for what does not exist and for what lies outside the caller's scope,
    /// so that existence is never revealed.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            detail,
        )
        .with_header(actix_web::http::header::RETRY_AFTER, "5")
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; it has been logged",
        );
        e.source = Some(source.into());
        e
    }

    /// The Vietnamese `detail`, for a reader who asked for Vietnamese.
    pub fn vi(mut self, detail_vi: impl Into<String>) -> Self {
        self.detail_vi = Some(detail_vi.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<Issue>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_extra(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn problem(
        &self,
        instance: Option<String>,
        request_id: Option<String>,
        lang: Lang,
    ) -> Problem {
        let text = texts::problem(self.code);
        let title = match (text, lang) {
            (Some(t), Lang::En) => t.title_en,
            (Some(t), Lang::Vi) => t.title_vi,
            (None, _) => self.status.canonical_reason().unwrap_or("Error"),
        };
        let detail = match lang {
            Lang::En => self.detail.clone(),
            Lang::Vi => self
                .detail_vi
                .clone()
                .or_else(|| text.map(|t| t.meaning_vi.to_string()))
                .unwrap_or_else(|| self.detail.clone()),
        };
        let errors = match lang {
            Lang::En => self.errors.clone(),
            Lang::Vi => self.errors.iter().map(Issue::in_vietnamese).collect(),
        };
        Problem {
            type_uri: format!("urn:gereport:problem:{}", self.code),
            title: title.to_string(),
            status: self.status.as_u16(),
            detail,
            instance,
            code: self.code.to_string(),
            request_id,
            errors,
            extra: self.extra.clone(),
        }
    }

    /// The full response, with `instance` and `request_id` when the caller knows them.
    pub fn render(
        &self,
        instance: Option<String>,
        request_id: Option<String>,
        lang: Lang,
    ) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder.content_type(PROBLEM_JSON_UTF8);
        builder.insert_header((actix_web::http::header::CONTENT_LANGUAGE, lang.tag()));
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        builder.json(self.problem(instance, request_id, lang))
    }

    /// The response to `req`: its path, its request id and the language it asked for
    /// (both settled by `crate::telemetry::request_context`).
    pub fn render_for(&self, req: &actix_web::HttpRequest) -> HttpResponse {
        let (id, lang) = request_context(req);
        self.render(Some(req.path().to_string()), id, lang)
    }

    /// The problem document `render_for` would send, as a value to embed in another
    /// answer (each refused item of a batch carries its own).
    pub fn problem_for(&self, req: &actix_web::HttpRequest) -> Problem {
        let (id, lang) = request_context(req);
        self.problem(Some(req.path().to_string()), id, lang)
    }
}

/// The request id and the language of a request.
fn request_context(req: &actix_web::HttpRequest) -> (Option<String>, Lang) {
    use actix_web::HttpMessage;
    let ext = req.extensions();
    let id = ext
        .get::<crate::telemetry::RequestId>()
        .map(|r| r.0.clone());
    (id, ext.get::<Lang>().copied().unwrap_or_default())
}

impl Issue {
    /// The issue as a Vietnamese reader sees it: the site's own Vietnamese message, or
    /// the code's general one.
    fn in_vietnamese(&self) -> Issue {
        let mut issue = self.clone();
        if let Some(vi) = self
            .message_vi
            .clone()
            .or_else(|| texts::issue(&self.code).map(|t| t.message_vi.to_string()))
        {
            issue.message = vi;
        }
        issue
    }
}

/// Checks of several fields, run all before answering, so that a form shows every
/// failing field at once: `(check_a(..), check_b(..)).all_fields()?` gives the tuple of
/// their values, or one `validation_failed` problem listing the issues of them all. A
/// failure that is not about a field's value (a 400, a 409) wins as it is.
pub trait AllFields {
    type Values;
    fn all_fields(self) -> ApiResult<Self::Values>;
}

fn merge_field_errors(failures: Vec<ApiError>) -> ApiError {
    let mut issues = Vec::new();
    for e in failures {
        if e.status != StatusCode::UNPROCESSABLE_ENTITY || e.errors.is_empty() {
            return e;
        }
        issues.extend(e.errors.iter().cloned());
    }
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    let detail = match issues.as_slice() {
        [one] => format!("{}: {}", one.path, one.message),
        _ => format!("{} fields are invalid: {}", issues.len(), paths.join(", ")),
    };
    let detail_vi = format!("{} trường không hợp lệ: {}", issues.len(), paths.join(", "));
    ApiError::validation(detail, issues).vi(detail_vi)
}

macro_rules! all_fields_for_tuple {
    ($($t:ident $v:ident),+) => {
        impl<$($t),+> AllFields for ($(ApiResult<$t>,)+) {
            type Values = ($($t,)+);
            fn all_fields(self) -> ApiResult<Self::Values> {
                let ($($v,)+) = self;
                match ($($v,)+) {
                    ($(Ok($v),)+) => Ok(($($v,)+)),
                    ($($v,)+) => {
                        let mut failures = Vec::new();
                        $(if let Err(e) = $v { failures.push(e); })+
                        Err(merge_field_errors(failures))
                    }
                }
            }
        }
    };
}

all_fields_for_tuple!(A a, B b);
all_fields_for_tuple!(A a, B b, C c);
all_fields_for_tuple!(A a, B b, C c, D d);
all_fields_for_tuple!(A a, B b, C c, D d, E e);
all_fields_for_tuple!(A a, B b, C c, D d, E e, F f);

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render(None, None, Lang::En)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match &e {
            E::NotFound => ApiError::not_found("object"),
            E::DatabaseError(K::UniqueViolation, info) => ApiError::conflict(
                "already_exists",
                format!(
                    "an object with the same unique value already exists{}",
                    info.constraint_name()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                ),
            ),
            E::DatabaseError(K::ForeignKeyViolation, _) => ApiError::conflict(
                "referenced_object_missing",
                "the request refers to an object that does not exist or is still in use",
            ),
            // The handlers validate every field before writing; a CHECK constraint
            // that still refuses a row is a value the validation missed, and so the
            // client's error, never a 500.
            E::DatabaseError(K::CheckViolation, info) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "constraint_violated",
                format!(
                    "a value is outside what the database accepts{}",
                    info.constraint_name()
                        .map(|c| format!(" (constraint {c})"))
                        .unwrap_or_default()
                ),
            ),
            E::DatabaseError(K::SerializationFailure, _) => ApiError::conflict(
                "concurrent_update",
                "another request changed the same data at the same time; retry",
            ),
            E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _) => {
                let mut e =
                    ApiError::unavailable("the database connection was lost; retry shortly");
                e.connection_lost = true;
                e
            }
            // A restart or failover ends connections under running queries (SQLSTATE
            // 57P01–57P03, 08xxx); a statement or lock timeout cancels one (57014,
            // 55P03). None is the client's fault and a retry soon may well succeed.
            E::DatabaseError(_, info) if is_transient(info.message()) => {
                let mut e = ApiError::unavailable(
                    "the database could not finish the request; retry shortly",
                );
                e.connection_lost = !is_timeout(info.message());
                e
            }
            // PostgreSQL text cannot hold U+0000 (SQLSTATE 22021, `invalid byte sequence
            // for encoding "UTF8": 0x00`); any client-supplied string may carry one.
            // In JSON the same character arrives as the escape `\u0000` (SQLSTATE 22P05).
            E::DatabaseError(_, info)
                if info.message().contains("0x00")
                    || info
                        .message()
                        .contains("unsupported Unicode escape sequence") =>
            {
                ApiError::bad_request(
                    "invalid_character",
                    "text values must not contain the NUL character (U+0000)",
                )
            }
            _ => ApiError::internal(e),
        }
    }
}

/// Messages of PostgreSQL errors that say the server, not the request, failed.
fn is_transient(message: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "terminating connection",
        "server closed the connection",
        "connection closed",
        "connection reset",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "canceling statement due to statement timeout",
        "canceling statement due to lock timeout",
        "could not obtain lock",
    ];
    let m = message.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| m.contains(t))
}

/// A statement the database cancelled on purpose: trying it again at once would only
/// wait as long again.
fn is_timeout(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("timeout") || m.contains("could not obtain lock")
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool could not hand out a connection");
        ApiError::unavailable("the database is not reachable; retry shortly")
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(e)
    }
}

/// Maps actix-web's own extractor errors to problems, so no framework error is ever
/// rendered as HTML or plain text.
pub mod extractors {
    use super::*;
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};

    pub fn json(err: JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
        let e = match &err {
            JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is {length} bytes; the limit is {limit}"),
            ),
            JsonPayloadError::Overflow { limit } => crate::extract::body_too_large_problem(*limit),
            JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ),
            _ => ApiError::bad_request("malformed_body", "the body could not be read as JSON"),
        };
        e.into()
    }

    /// An optional JSON body: an empty one, or JSON `null`, is absent; anything else
    /// must parse. (actix's `Option<Json<T>>` turns a body that fails to parse into
    /// `None`, which would silently ignore a misspelt member.)
    pub fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<Option<T>> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        crate::extract::parse_json::<Option<T>>(body)
    }

    pub fn form(err: UrlencodedError, _req: &actix_web::HttpRequest) -> actix_web::Error {
        let e = match &err {
            UrlencodedError::Overflow { .. } | UrlencodedError::UnknownLength => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                err.to_string(),
            ),
            UrlencodedError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be application/x-www-form-urlencoded",
            ),
            _ => ApiError::bad_request("malformed_body", "the body is not a valid form"),
        };
        e.into()
    }

    /// actix prefixes serde's sentence with its own ("Query deserialize error: ").
    fn serde_sentence(msg: &str) -> String {
        msg.split_once("error: ")
            .map_or(msg, |(_, rest)| rest)
            .to_string()
    }

    pub fn query(err: QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
        let msg = serde_sentence(&err.to_string());
        ApiError::bad_request("invalid_query", format!("invalid query parameter: {msg}"))
            .with_errors(vec![Issue::new("query", "invalid_value", msg)])
            .into()
    }

    pub fn path(err: PathError, req: &actix_web::HttpRequest) -> actix_web::Error {
        // `PATCH /indicators/trend` reaches `PATCH /indicators/{indicator_id}` and fails
        // to parse "trend" as an id; the path names the trend route, which is GET only.
        let routes = req
            .app_data::<actix_web::web::Data<crate::AppState>>()
            .map(|s| &s.routes);
        if let Some(e) = routes.and_then(|r| crate::ops::method_not_allowed(req, r)) {
            return e.into();
        }
        let msg = serde_sentence(&err.to_string());
        ApiError::bad_request("invalid_path", format!("invalid path parameter: {msg}"))
            .with_errors(vec![Issue::new("path", "invalid_value", msg)])
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::ApiError;
    use actix_web::http::StatusCode;
    use diesel::result::{DatabaseErrorKind as K, Error as E};

    fn from_db(kind: K, message: &str) -> ApiError {
        ApiError::from(E::DatabaseError(kind, Box::new(message.to_string())))
    }

    #[test]
    fn database_refusals_of_client_values_are_client_errors() {
        let check = from_db(K::CheckViolation, "new row violates check constraint");
        assert_eq!(check.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(check.code, "constraint_violated");
        assert_eq!(
            from_db(K::UniqueViolation, "duplicate key").status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            from_db(
                K::Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00"
            )
            .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            from_db(K::Unknown, "something else").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        for transient in [
            "terminating connection due to administrator command",
            "canceling statement due to statement timeout",
            "canceling statement due to lock timeout",
            "the database system is shutting down",
        ] {
            let e = from_db(K::Unknown, transient);
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "{transient}");
            assert!(e.headers.iter().any(|(n, _)| n == "retry-after"));
        }
    }
}
