//! Paginated lists: a hard cap on page size, a total, stable ordering by the caller.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Validated `limit` and `offset` query parameters.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> ApiResult<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )
            .with_errors(vec![crate::error::Issue::new(
                "query.limit",
                "out_of_range",
                format!("must be between 1 and {MAX_LIMIT}"),
            )]));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(
                ApiError::bad_request("invalid_query", "offset must not be negative").with_errors(
                    vec![crate::error::Issue::new(
                        "query.offset",
                        "out_of_range",
                        "must not be negative",
                    )],
                ),
            );
        }
        Ok(PageRequest { limit, offset })
    }
}

/// Paging alone, for lists with no filters.
#[derive(Deserialize, IntoParams, Clone, Copy, Debug)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(self) -> ApiResult<PageRequest> {
        PageRequest::new(self.limit, self.offset)
    }
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// How many items match the filters in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T: ToSchema> Page<T> {
    pub fn new(items: Vec<T>, total: i64, req: PageRequest) -> Self {
        Page {
            items,
            total,
            limit: req.limit,
            offset: req.offset,
        }
    }

    /// A page cut from a complete, already ordered list (for short lists filtered in
    /// memory, such as plans and periods).
    pub fn slice(all: Vec<T>, req: PageRequest) -> Self {
        let total = all.len() as i64;
        let items = all
            .into_iter()
            .skip(req.offset as usize)
            .take(req.limit as usize)
            .collect();
        Page::new(items, total, req)
    }
}

/// Escapes LIKE wildcards in user text used for substring search.
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

diesel::define_sql_function! {
    /// Lower case without diacritics (`gr_fold('Thư viện') = 'thu vien'`), the
    /// migration's IMMUTABLE wrapper around PostgreSQL's `unaccent`; names are searched
    /// through it on both sides, under a trigram index.
    fn gr_fold(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
