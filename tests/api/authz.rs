//! Who may do what: a matrix of every endpoint of the OpenAPI document against every
//! role, on an object of the caller's own unit and on one of a foreign unit; then the
//! ways of raising a role through a request body, and scope in lists.

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{Value, json};

use gereport::plans::form::default_form_2024;

use crate::fixtures::{complete_report, days, today_vn};
use crate::helpers::{
    ADMIN_PASSWORD, PASSWORD, TestApp, Tree, Unit, assert_json, assert_problem, create_unit,
    spawn_app,
};

const ROLES: [&str; 4] = ["admin", "coordinator", "viewer", "reporter"];

/// Expected statuses for [admin, coordinator, viewer, reporter].
type Statuses = [u16; 4];
const ALL_200: Statuses = [200; 4];
const ALL_204: Statuses = [204; 4];
const ADMIN_200: Statuses = [200, 403, 403, 403];
const ADMIN_201: Statuses = [201, 403, 403, 403];
const ADMIN_204: Statuses = [204, 403, 403, 403];
/// Readable by all, but a foreign object is invisible (404) to all but the admin.
const FOREIGN_READ: Statuses = [200, 404, 404, 404];
/// Plans, forms, indicators and periods are managed by admins and coordinators ...
const MANAGE_200: Statuses = [200, 200, 403, 403];
const MANAGE_201: Statuses = [201, 201, 403, 403];
/// ... and a coordinator's writes stop at its scope (404), after the role check (403).
const FOREIGN_MANAGE_200: Statuses = [200, 404, 403, 403];
const FOREIGN_MANAGE_201: Statuses = [201, 404, 403, 403];
const MANAGE_202: Statuses = [202, 202, 403, 403];
const FOREIGN_MANAGE_202: Statuses = [202, 404, 403, 403];
/// Compilations and trends: everyone but reporters, within scope.
const COMPILE: Statuses = [200, 200, 200, 403];
const FOREIGN_COMPILE: Statuses = [200, 404, 404, 403];

/// One row of the matrix: an operation of the OpenAPI document, what each role gets
/// on an object of office A (the caller's own unit; the admin's scope is the root),
/// and what it gets on an object of office B (foreign to all but the admin) where the
/// operation takes an object. `public` operations need no token.
struct Row {
    method: &'static str,
    path: &'static str,
    own: Statuses,
    foreign: Option<Statuses>,
    public: bool,
}

const fn row(
    method: &'static str,
    path: &'static str,
    own: Statuses,
    foreign: Option<Statuses>,
) -> Row {
    Row {
        method,
        path,
        own,
        foreign,
        public: false,
    }
}

const fn public(method: &'static str, path: &'static str, all: Statuses) -> Row {
    Row {
        method,
        path,
        own: all,
        foreign: None,
        public: true,
    }
}

/// The matrix. Rows run in this order; each row's own side runs before its foreign
/// side, and within a side the admin goes last, so refused writes are tried on
/// objects no allowed write has changed yet.
fn matrix() -> Vec<Row> {
    vec![
        public("get", "/healthz", ALL_200),
        public("get", "/readyz", ALL_200),
        public("get", "/metrics", ALL_200),
        public("get", "/api/v1/openapi.json", ALL_200),
        // A bearer token does not stand in for credentials: login checks the body,
        // refresh its token (here an unknown one), the token grant the client secret.
        public("post", "/api/v1/auth/login", ALL_200),
        public("post", "/api/v1/auth/refresh", [401; 4]),
        public("post", "/api/v1/auth/token", ALL_200),
        row("post", "/api/v1/auth/logout", ALL_204, None),
        row("get", "/api/v1/me", ALL_200, None),
        row("post", "/api/v1/me/password", ALL_204, None),
        // Everyone has a bell, and sees only their own notifications: the own side is
        // reporter A's (the only one of these callers that has any), the foreign side
        // reporter B's.
        row("get", "/api/v1/me/notifications", ALL_200, None),
        row(
            "post",
            "/api/v1/me/notifications/{notification_id}/read",
            [404, 404, 404, 200],
            Some([404; 4]),
        ),
        row("post", "/api/v1/me/notifications/read-all", ALL_200, None),
        row("get", "/api/v1/me/notification-settings", ALL_200, None),
        row("put", "/api/v1/me/notification-settings", ALL_200, None),
        // Lists filtered by a unit: `parent` must itself be visible.
        row("get", "/api/v1/org-units", ALL_200, Some(FOREIGN_READ)),
        row(
            "get",
            "/api/v1/org-units/{unit}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "get",
            "/api/v1/org-units/{unit}/subtree",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // A unit's document settings are read like the unit, set by the office.
        row(
            "get",
            "/api/v1/org-units/{unit}/document-settings",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/org-units/{unit}/document-settings",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        // Writes to the tree are the admin's: 403 for the others whatever the object.
        row("post", "/api/v1/org-units", ADMIN_201, Some(ADMIN_201)),
        row(
            "patch",
            "/api/v1/org-units/{unit}",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row(
            "post",
            "/api/v1/org-units/{unit}/deactivate",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row(
            "post",
            "/api/v1/org-units/{unit}/reactivate",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row("get", "/api/v1/users", ADMIN_200, Some(ADMIN_200)),
        row("post", "/api/v1/users", ADMIN_201, Some(ADMIN_201)),
        row("get", "/api/v1/users/{user_id}", ADMIN_200, Some(ADMIN_200)),
        row(
            "patch",
            "/api/v1/users/{user_id}",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row(
            "post",
            "/api/v1/users/{user_id}/password",
            ADMIN_204,
            Some(ADMIN_204),
        ),
        row("get", "/api/v1/service-clients", ADMIN_200, Some(ADMIN_200)),
        row(
            "post",
            "/api/v1/service-clients",
            ADMIN_201,
            Some(ADMIN_201),
        ),
        row(
            "get",
            "/api/v1/service-clients/{service_client_id}",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row(
            "post",
            "/api/v1/service-clients/{service_client_id}/rotate",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        row(
            "post",
            "/api/v1/service-clients/{service_client_id}/revoke",
            ADMIN_200,
            Some(ADMIN_200),
        ),
        // The audit log: admins and coordinators (in scope; checked in `audit_*`).
        row(
            "get",
            "/api/v1/audit",
            [200, 200, 403, 403],
            Some([200, 200, 403, 403]),
        ),
        // Plans and what they own. Own is a plan issued by A, foreign one issued by B:
        // a plan is readable where it applies (issued at or above the caller's unit) or
        // was issued inside the caller's scope, so B's plan is invisible to A's people.
        row("get", "/api/v1/plans", ALL_200, None),
        // Issuing a plan for a unit outside the coordinator's scope is a bad value
        // (422 naming `body.issuing_unit`), not a missing object.
        row(
            "post",
            "/api/v1/plans",
            MANAGE_201,
            Some([201, 422, 403, 403]),
        ),
        row(
            "get",
            "/api/v1/plans/{plan_id}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "patch",
            "/api/v1/plans/{plan_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "get",
            "/api/v1/plans/{plan_id}/form",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/plans/{plan_id}/form",
            MANAGE_201,
            Some(FOREIGN_MANAGE_201),
        ),
        // A plan's form versions and their differences: read with the plan.
        row(
            "get",
            "/api/v1/plans/{plan_id}/forms",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "get",
            "/api/v1/plans/{plan_id}/forms/diff",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // Copying a plan to another year makes a plan of the same issuing unit.
        row(
            "post",
            "/api/v1/plans/{plan_id}/copy",
            MANAGE_201,
            Some(FOREIGN_MANAGE_201),
        ),
        // The mapping of fields to data element codes for ADX: read with the plan,
        // written by those who manage it.
        row(
            "get",
            "/api/v1/plans/{plan_id}/data-element-codes",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/plans/{plan_id}/data-element-codes",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "get",
            "/api/v1/plans/{plan_id}/indicators",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "post",
            "/api/v1/plans/{plan_id}/indicators",
            MANAGE_201,
            Some(FOREIGN_MANAGE_201),
        ),
        row(
            "get",
            "/api/v1/indicators/{indicator_id}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // Plan tasks: read by everyone a task concerns (the fixture's task is led by
        // the plan's own unit), kept by those who manage the plan; the coordinator
        // deletes its task, and the admin then finds none.
        row(
            "get",
            "/api/v1/plans/{plan_id}/tasks",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "post",
            "/api/v1/plans/{plan_id}/tasks",
            MANAGE_201,
            Some(FOREIGN_MANAGE_201),
        ),
        row(
            "get",
            "/api/v1/plans/{plan_id}/tasks/{task_id}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/plans/{plan_id}/tasks/{task_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "delete",
            "/api/v1/plans/{plan_id}/tasks/{task_id}",
            [404, 204, 403, 403],
            Some([204, 404, 403, 403]),
        ),
        row(
            "patch",
            "/api/v1/indicators/{indicator_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        // Filtering by a plan one cannot see is a 404, as for a plan that does not exist.
        row("get", "/api/v1/periods", ALL_200, Some(FOREIGN_READ)),
        row(
            "post",
            "/api/v1/plans/{plan_id}/periods",
            MANAGE_201,
            Some(FOREIGN_MANAGE_201),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "patch",
            "/api/v1/periods/{period_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        // Unlock right after lock, so that nothing later meets a locked period.
        row(
            "post",
            "/api/v1/periods/{period_id}/lock",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "post",
            "/api/v1/periods/{period_id}/unlock",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/extensions",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/periods/{period_id}/extensions/{unit}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/expected-units",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // A leaf of the plan's tree is removed, then added back (removing a unit that
        // is not expected answers 204, and adding one that is answers it as it stands,
        // so the admin after the coordinator gets the same).
        row(
            "delete",
            "/api/v1/periods/{period_id}/expected-units/{unit}",
            [204, 204, 403, 403],
            Some([204, 404, 403, 403]),
        ),
        row(
            "put",
            "/api/v1/periods/{period_id}/expected-units/{unit}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        // Reminder schedules: read with the period, set by its managers, who may also
        // remind the missing units now.
        row(
            "get",
            "/api/v1/periods/{period_id}/reminders",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/periods/{period_id}/reminders",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "post",
            "/api/v1/periods/{period_id}/reminders:send",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        // Reports, in a period of a plan issued by the root (A and B both report under
        // it): own is A's, foreign B's, both complete drafts at first. Writes send
        // `If-Match: *`. The rows follow the workflow, so a role past authorization gets
        // what the sequence leaves: once the reporter has submitted its own report,
        // the admin's submit is an illegal transition (409), and so on.
        //
        // Drafts are written by reporters (their own unit only) and admins, and by
        // coordinators on a unit's behalf (with `entry_note`; in scope).
        row(
            "put",
            "/api/v1/periods/{period_id}/reports/{unit}",
            [200, 200, 403, 200],
            Some([200, 404, 403, 404]),
        ),
        // The report as a document to sign is read like the report.
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/document",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // The report as a workbook is read like the report; the filled workbook is
        // saved like the JSON draft (a coordinator with `entry_note`).
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/template.xlsx",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "put",
            "/api/v1/periods/{period_id}/reports/{unit}/template.xlsx",
            [200, 200, 403, 200],
            Some([200, 404, 403, 404]),
        ),
        // Attachments are written by the report's writers and the coordinating office
        // (a scan received on paper), read by its readers, in the report's scope.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/attachments",
            [201, 201, 403, 201],
            Some([201, 404, 403, 404]),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/attachments",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/attachments/{attachment_id}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // Moving a draft to the current form writes it (here a no-op: it is current).
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/upgrade-form",
            [200, 403, 403, 200],
            Some([200, 403, 403, 404]),
        ),
        // The batch import (a dry run here) is the draft writers': a unit out of the
        // caller's scope refuses its item (404 inside), not the request.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports:batch",
            [200, 403, 403, 200],
            Some([200, 403, 403, 200]),
        ),
        // A dry run reads, so every reader may.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/validate",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // A coordinator may submit on the unit's behalf too (tested in
        // `notifications`); here the reporter submits first and the others find the
        // report submitted.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/submit",
            [409, 409, 403, 200],
            Some([200, 404, 403, 404]),
        ),
        // Once submitted, the report's attachments are frozen with its revision: the
        // writers past authorization are refused (409 `attachment_frozen`).
        row(
            "delete",
            "/api/v1/periods/{period_id}/reports/{unit}/attachments/{attachment_id}",
            [409, 409, 403, 409],
            Some([409, 404, 403, 404]),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/revisions",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        row(
            "get",
            "/api/v1/periods/{period_id}/reports/{unit}/revisions/{number}",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // Filtered by a unit, which must itself be visible.
        row("get", "/api/v1/reports", ALL_200, Some(FOREIGN_READ)),
        row(
            "get",
            "/api/v1/periods/{period_id}/data",
            ALL_200,
            Some(FOREIGN_READ),
        ),
        // Review is for coordinators (in scope) and admins: accept, then reopen, leave
        // both reports returned, which cannot be returned again.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/accept",
            [409, 200, 403, 403],
            Some([200, 404, 403, 403]),
        ),
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/reopen",
            [409, 200, 403, 403],
            Some([200, 404, 403, 403]),
        ),
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/return",
            [409, 409, 403, 403],
            Some([409, 404, 403, 403]),
        ),
        // The unit head's sign-off: none of these callers heads a unit, so each is
        // refused on a report it can see (403) before its status is looked at.
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/approve",
            [403; 4],
            Some([403, 404, 404, 404]),
        ),
        row(
            "post",
            "/api/v1/periods/{period_id}/reports/{unit}/decline",
            [403; 4],
            Some([403, 404, 404, 404]),
        ),
        // Compiling a subtree (`?unit=`): not for reporters; the unit must be in scope.
        row(
            "get",
            "/api/v1/periods/{period_id}/compilation",
            COMPILE,
            Some(FOREIGN_COMPILE),
        ),
        row(
            "get",
            "/api/v1/indicators/trend",
            COMPILE,
            Some(FOREIGN_COMPILE),
        ),
        // Webhooks: admins, and coordinators for endpoints of their subtree. Own is an
        // endpoint of A, foreign one of B; a coordinator cannot scope one to B (422).
        row("get", "/api/v1/webhooks", MANAGE_200, None),
        row(
            "post",
            "/api/v1/webhooks",
            MANAGE_201,
            Some([201, 422, 403, 403]),
        ),
        row(
            "get",
            "/api/v1/webhooks/{webhook_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "patch",
            "/api/v1/webhooks/{webhook_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "post",
            "/api/v1/webhooks/{webhook_id}/rotate-secret",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "post",
            "/api/v1/webhooks/{webhook_id}/test",
            MANAGE_202,
            Some(FOREIGN_MANAGE_202),
        ),
        row(
            "get",
            "/api/v1/webhooks/{webhook_id}/deliveries",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "get",
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
            MANAGE_200,
            Some(FOREIGN_MANAGE_200),
        ),
        row(
            "post",
            "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            MANAGE_202,
            Some(FOREIGN_MANAGE_202),
        ),
        // Last: the coordinator deletes its endpoint, and the admin then finds none.
        row(
            "delete",
            "/api/v1/webhooks/{webhook_id}",
            [404, 204, 403, 403],
            Some([204, 404, 403, 403]),
        ),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Own,
    Foreign,
}

/// Objects of each side, made by the admin before the matrix runs.
struct Fixture {
    tree: Tree,
    /// Leaves under A and B, for deactivation (A and B get children during the run).
    leaf: HashMap<&'static str, Unit>,
    /// Service clients scoped to A and B (targets of get, rotate and revoke).
    clients: HashMap<&'static str, String>,
    /// A service client used for the token grant, and its secret.
    grant_client: (String, String),
    /// Plans issued by A and B, with what they own.
    plans: HashMap<&'static str, PlanObjects>,
    /// An open period of a plan issued by the root, in which A and B report.
    report_period: String,
    /// Webhook endpoints of A and B, each with a delivery (ids).
    webhooks: HashMap<&'static str, (String, String)>,
    /// A notification of reporter A and one of reporter B (ids).
    notifications: HashMap<&'static str, String>,
    tokens: HashMap<&'static str, String>,
    /// Each office's report as a workbook, and one attachment of it.
    workbooks: HashMap<&'static str, Vec<u8>>,
    attachments: HashMap<&'static str, String>,
}

/// A plan with the default form, one indicator and one open period (ids).
struct PlanObjects {
    id: String,
    indicator: String,
    period: String,
    /// A task led by the plan's issuing unit.
    task: String,
}

/// The code of the indicator every fixture plan defines (the trend asks for it).
const INDICATOR: &str = "leaders_with_woman";

impl Fixture {
    fn pick<'a, T>(&'a self, side: Side, own: &'a T, foreign: &'a T) -> &'a T {
        match side {
            Side::Own => own,
            Side::Foreign => foreign,
        }
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    /// A report write or transition: `If-Match: *` (any existing version), with an
    /// optional JSON body.
    IfMatchAny(Option<Value>),
    /// Bytes of a type, with `If-Match: *` when `if_match`.
    Binary(Vec<u8>, &'static str, bool),
}

/// The smallest file the attachment endpoints take as a PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// The concrete request for a row, side, caller and run number (which keeps created
/// names unique).
fn request(
    fx: &Fixture,
    method: &str,
    template: &str,
    side: Side,
    who: &str,
    n: usize,
) -> (String, Body) {
    let t = &fx.tree;
    let unit = fx.pick(side, &t.a, &t.b);
    let user = fx.pick(side, &t.reporter_a, &t.reporter_b);
    let leaf = &fx.leaf[fx.pick(side, &"a", &"b")];
    let client = &fx.clients[fx.pick(side, &"a", &"b")];
    let plan = &fx.plans[fx.pick(side, &"a", &"b")];
    let report = format!("/api/v1/periods/{}/reports/{}", fx.report_period, unit.code);
    let (webhook, delivery) = &fx.webhooks[fx.pick(side, &"a", &"b")];
    let webhook = format!("/api/v1/webhooks/{webhook}");
    let today = today_vn();
    let none = |p: &str| (p.to_string(), Body::None);
    match (method, template) {
        ("get", "/healthz" | "/readyz" | "/metrics" | "/api/v1/openapi.json" | "/api/v1/me") => {
            none(template)
        }
        ("post", "/api/v1/auth/login") => (
            template.into(),
            Body::Json(json!({ "username": "reporter_b", "password": PASSWORD })),
        ),
        ("post", "/api/v1/auth/refresh") => (
            template.into(),
            Body::Json(json!({ "refresh_token": "not-a-refresh-token" })),
        ),
        ("post", "/api/v1/auth/token") => (
            template.into(),
            Body::Form(vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", fx.grant_client.0.clone()),
                ("client_secret", fx.grant_client.1.clone()),
            ]),
        ),
        // A session that is not the caller's: logging out of every session would end
        // the tokens the rest of the matrix runs with.
        ("post", "/api/v1/auth/logout") => (
            template.into(),
            Body::Json(json!({"refresh_token": "not-a-session-of-anyone"})),
        ),
        // Setting the same password again: allowed, and nothing changes for later rows.
        ("post", "/api/v1/me/password") => {
            let pw = if who == "admin" {
                ADMIN_PASSWORD
            } else {
                PASSWORD
            };
            (
                template.into(),
                Body::Json(json!({ "current_password": pw, "new_password": pw })),
            )
        }
        ("get", "/api/v1/org-units") => none(&format!("{template}?parent={}", unit.code)),
        ("get", "/api/v1/org-units/{unit}") => none(&format!("/api/v1/org-units/{}", unit.code)),
        ("get", "/api/v1/org-units/{unit}/subtree") => {
            none(&format!("/api/v1/org-units/{}/subtree", unit.id))
        }
        ("get", "/api/v1/org-units/{unit}/document-settings") => none(&format!(
            "/api/v1/org-units/{}/document-settings",
            unit.code
        )),
        ("put", "/api/v1/org-units/{unit}/document-settings") => (
            format!("/api/v1/org-units/{}/document-settings", unit.code),
            Body::Json(json!({
                "superior_body": "Sở Thử nghiệm", "issuing_body": format!("Đơn vị {}", unit.code),
                "abbreviation": unit.code, "place": "Hà Nội", "signer_authority": "",
                "signer_title": "Trưởng phòng", "signer_name": format!("Người ký {n}"),
                "recipients": ["Sở Thử nghiệm"], "drafting_unit": "",
            })),
        ),
        ("post", "/api/v1/org-units") => (
            template.into(),
            Body::Json(json!({
                "code": format!("NEW-{n}"), "name": format!("Đơn vị mới {n}"),
                "kind": "other", "parent": unit.code,
            })),
        ),
        ("patch", "/api/v1/org-units/{unit}") => (
            format!("/api/v1/org-units/{}", leaf.code),
            Body::Json(json!({ "name": format!("Tổ {n}") })),
        ),
        ("post", "/api/v1/org-units/{unit}/deactivate") => {
            none(&format!("/api/v1/org-units/{}/deactivate", leaf.code))
        }
        ("post", "/api/v1/org-units/{unit}/reactivate") => {
            none(&format!("/api/v1/org-units/{}/reactivate", leaf.id))
        }
        ("get", "/api/v1/users") => none(&format!("{template}?unit={}", unit.code)),
        ("post", "/api/v1/users") => (
            template.into(),
            Body::Json(json!({
                "username": format!("new_user_{n}"), "display_name": "Người mới",
                "role": "reporter", "unit": unit.code, "password": "a-new-users-password",
            })),
        ),
        ("get", "/api/v1/users/{user_id}") => none(&format!("/api/v1/users/{}", user.id)),
        ("patch", "/api/v1/users/{user_id}") => (
            format!("/api/v1/users/{}", user.id),
            Body::Json(json!({ "display_name": format!("Cán bộ {n}") })),
        ),
        // The same password again, so the target can still log in.
        ("post", "/api/v1/users/{user_id}/password") => (
            format!("/api/v1/users/{}/password", user.id),
            Body::Json(json!({ "new_password": PASSWORD })),
        ),
        ("get", "/api/v1/service-clients") => none(&format!("{template}?active=true")),
        ("post", "/api/v1/service-clients") => (
            template.into(),
            Body::Json(
                json!({ "name": format!("Script {n}"), "role": "viewer", "unit": unit.code }),
            ),
        ),
        ("get", "/api/v1/service-clients/{service_client_id}") => {
            none(&format!("/api/v1/service-clients/{client}"))
        }
        ("post", "/api/v1/service-clients/{service_client_id}/rotate") => {
            none(&format!("/api/v1/service-clients/{client}/rotate"))
        }
        ("post", "/api/v1/service-clients/{service_client_id}/revoke") => {
            none(&format!("/api/v1/service-clients/{client}/revoke"))
        }
        ("get", "/api/v1/audit") => none(&format!("{template}?object_id={}", unit.id)),
        ("get", "/api/v1/plans") => none(template),
        ("post", "/api/v1/plans") => (
            template.into(),
            Body::Json(json!({
                "year": 2025, "document_number": format!("NEW-{n}/KH"),
                "title": format!("Kế hoạch {n}"), "issuing_unit": unit.code,
            })),
        ),
        ("get", "/api/v1/plans/{plan_id}") => none(&format!("/api/v1/plans/{}", plan.id)),
        ("patch", "/api/v1/plans/{plan_id}") => (
            format!("/api/v1/plans/{}", plan.id),
            Body::Json(json!({ "title": format!("Kế hoạch {n}") })),
        ),
        ("get", "/api/v1/plans/{plan_id}/form") => none(&format!("/api/v1/plans/{}/form", plan.id)),
        // The same form again: a new version, which the plan's reports do not use.
        ("put", "/api/v1/plans/{plan_id}/form") => (
            format!("/api/v1/plans/{}/form", plan.id),
            Body::Json(serde_json::to_value(default_form_2024().unwrap()).unwrap()),
        ),
        ("get", "/api/v1/plans/{plan_id}/forms") => {
            none(&format!("/api/v1/plans/{}/forms", plan.id))
        }
        ("get", "/api/v1/plans/{plan_id}/forms/diff") => {
            none(&format!("/api/v1/plans/{}/forms/diff?from=1&to=1", plan.id))
        }
        ("post", "/api/v1/plans/{plan_id}/copy") => (
            format!("/api/v1/plans/{}/copy", plan.id),
            Body::Json(json!({ "year": 2026, "document_number": format!("COPY-{n}/KH") })),
        ),
        ("get", "/api/v1/plans/{plan_id}/data-element-codes") => {
            none(&format!("/api/v1/plans/{}/data-element-codes", plan.id))
        }
        ("put", "/api/v1/plans/{plan_id}/data-element-codes") => (
            format!("/api/v1/plans/{}/data-element-codes", plan.id),
            Body::Json(json!({
                "data_set": "GE_ANNUAL",
                "codes": [{ "field": "staff_female", "data_element": "GE_STAFF", "attributes": { "SEX": "F" } }],
            })),
        ),
        ("get", "/api/v1/plans/{plan_id}/tasks") => {
            none(&format!("/api/v1/plans/{}/tasks", plan.id))
        }
        ("post", "/api/v1/plans/{plan_id}/tasks") => (
            format!("/api/v1/plans/{}/tasks", plan.id),
            Body::Json(json!({
                "code": format!("NEW-{n}"), "title_vi": format!("Nhiệm vụ {n}"),
                "lead_unit": unit.code,
            })),
        ),
        ("get" | "delete", "/api/v1/plans/{plan_id}/tasks/{task_id}") => {
            none(&format!("/api/v1/plans/{}/tasks/{}", plan.id, plan.task))
        }
        ("put", "/api/v1/plans/{plan_id}/tasks/{task_id}") => (
            format!("/api/v1/plans/{}/tasks/{}", plan.id, plan.task),
            Body::Json(json!({
                "code": "III.1", "title_vi": format!("Nhiệm vụ {n}"), "lead_unit": unit.code,
            })),
        ),
        ("get", "/api/v1/plans/{plan_id}/indicators") => {
            none(&format!("/api/v1/plans/{}/indicators", plan.id))
        }
        ("post", "/api/v1/plans/{plan_id}/indicators") => (
            format!("/api/v1/plans/{}/indicators", plan.id),
            Body::Json(json!({
                "code": format!("new_{n}"), "name_vi": format!("Chỉ tiêu {n}"),
                "name_en": format!("Indicator {n}"),
                "formula": "sum(staff_female) / sum(staff_total)",
                "target": 0.5, "direction": "at_least", "source": "Kế hoạch",
            })),
        ),
        ("get", "/api/v1/indicators/{indicator_id}") => {
            none(&format!("/api/v1/indicators/{}", plan.indicator))
        }
        ("patch", "/api/v1/indicators/{indicator_id}") => (
            format!("/api/v1/indicators/{}", plan.indicator),
            Body::Json(json!({ "name_vi": format!("Chỉ tiêu {n}") })),
        ),
        ("get", "/api/v1/periods") => none(&format!("{template}?plan={}", plan.id)),
        ("post", "/api/v1/plans/{plan_id}/periods") => (
            format!("/api/v1/plans/{}/periods", plan.id),
            Body::Json(json!({
                "kind": "ad_hoc", "code": format!("NEW-{n}"), "name": format!("Kỳ {n}"),
                "window_start": today - days(30), "window_end": today,
                "due_date": today + days(30),
            })),
        ),
        ("get", "/api/v1/periods/{period_id}") => none(&format!("/api/v1/periods/{}", plan.period)),
        ("patch", "/api/v1/periods/{period_id}") => (
            format!("/api/v1/periods/{}", plan.period),
            Body::Json(json!({ "name": format!("Kỳ {n}") })),
        ),
        ("post", "/api/v1/periods/{period_id}/lock") => {
            none(&format!("/api/v1/periods/{}/lock", plan.period))
        }
        ("post", "/api/v1/periods/{period_id}/unlock") => {
            none(&format!("/api/v1/periods/{}/unlock", plan.period))
        }
        ("get", "/api/v1/periods/{period_id}/extensions") => {
            none(&format!("/api/v1/periods/{}/extensions", plan.period))
        }
        ("put", "/api/v1/periods/{period_id}/extensions/{unit}") => (
            format!("/api/v1/periods/{}/extensions/{}", plan.period, unit.code),
            Body::Json(json!({ "due_date": today + days(90), "reason": "Gia hạn" })),
        ),
        ("get", "/api/v1/periods/{period_id}/expected-units") => {
            none(&format!("/api/v1/periods/{}/expected-units", plan.period))
        }
        ("put", "/api/v1/periods/{period_id}/expected-units/{unit}") => (
            format!(
                "/api/v1/periods/{}/expected-units/{}",
                plan.period, leaf.code
            ),
            Body::Json(json!({ "reason": "Đơn vị mới được giao nhiệm vụ báo cáo" })),
        ),
        ("delete", "/api/v1/periods/{period_id}/expected-units/{unit}") => none(&format!(
            "/api/v1/periods/{}/expected-units/{}?reason=S%C3%A1p%20nh%E1%BA%ADp",
            plan.period, leaf.code
        )),
        ("post", "/api/v1/periods/{period_id}/reports:batch") => (
            format!("/api/v1/periods/{}/reports:batch", fx.report_period),
            Body::Json(json!({
                "dry_run": true,
                "items": [{ "unit": unit.code, "values": { "staff_total": 1 } }],
            })),
        ),
        ("put", "/api/v1/periods/{period_id}/reports/{unit}") => (
            format!("{report}?entry_note=Nh%E1%BA%ADn%20b%E1%BA%A3n%20gi%E1%BA%A5y"),
            Body::IfMatchAny(Some(complete_report(today - days(90)))),
        ),
        ("get", "/api/v1/periods/{period_id}/reports/{unit}/document") => {
            none(&format!("{report}/document"))
        }
        ("get", "/api/v1/periods/{period_id}/reports/{unit}/template.xlsx") => {
            none(&format!("{report}/template.xlsx"))
        }
        ("put", "/api/v1/periods/{period_id}/reports/{unit}/template.xlsx") => (
            format!("{report}/template.xlsx?entry_note=Nh%E1%BA%ADn%20b%E1%BA%A3n%20gi%E1%BA%A5y"),
            Body::Binary(
                fx.workbooks[fx.pick(side, &"a", &"b")].clone(),
                gereport::sheets::XLSX,
                true,
            ),
        ),
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/attachments") => (
            format!("{report}/attachments?kind=minutes&filename=bien-ban-{n}.pdf"),
            Body::Binary(PDF.to_vec(), "application/octet-stream", false),
        ),
        ("get", "/api/v1/periods/{period_id}/reports/{unit}/attachments") => {
            none(&format!("{report}/attachments"))
        }
        (
            "get" | "delete",
            "/api/v1/periods/{period_id}/reports/{unit}/attachments/{attachment_id}",
        ) => none(&format!(
            "{report}/attachments/{}",
            fx.attachments[fx.pick(side, &"a", &"b")]
        )),
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/upgrade-form") => {
            (format!("{report}/upgrade-form"), Body::IfMatchAny(None))
        }
        // No body: the stored report is checked.
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/validate") => {
            none(&format!("{report}/validate"))
        }
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/submit") => (
            format!("{report}/submit?entry_note=Nh%E1%BA%ADn%20b%E1%BA%A3n%20gi%E1%BA%A5y"),
            Body::IfMatchAny(None),
        ),
        ("get", "/api/v1/me/notifications") => none(&format!("{template}?unread=true&limit=5")),
        ("post", "/api/v1/me/notifications/{notification_id}/read") => none(&format!(
            "/api/v1/me/notifications/{}/read",
            fx.notifications[fx.pick(side, &"a", &"b")]
        )),
        ("post", "/api/v1/me/notifications/read-all") => none(template),
        ("get", "/api/v1/me/notification-settings") => none(template),
        ("put", "/api/v1/me/notification-settings") => {
            (template.into(), Body::Json(json!({ "email": true })))
        }
        ("get", "/api/v1/periods/{period_id}/reminders") => {
            none(&format!("/api/v1/periods/{}/reminders", plan.period))
        }
        ("put", "/api/v1/periods/{period_id}/reminders") => (
            format!("/api/v1/periods/{}/reminders", plan.period),
            Body::Json(json!({ "offsets_days": [-7, -1, 0], "repeat_every_days": 3 })),
        ),
        ("post", "/api/v1/periods/{period_id}/reminders:send") => (
            format!("/api/v1/periods/{}/reminders:send", plan.period),
            Body::Json(json!({ "message": "Đề nghị các đơn vị nộp báo cáo." })),
        ),
        ("get", "/api/v1/periods/{period_id}/reports/{unit}") => none(&report),
        ("get", "/api/v1/periods/{period_id}/reports/{unit}/revisions") => {
            none(&format!("{report}/revisions"))
        }
        ("get", "/api/v1/periods/{period_id}/reports/{unit}/revisions/{number}") => {
            none(&format!("{report}/revisions/1"))
        }
        ("get", "/api/v1/periods/{period_id}/data") => none(&format!(
            "/api/v1/periods/{}/data?unit={}",
            fx.report_period, unit.code
        )),
        ("get", "/api/v1/reports") => none(&format!(
            "{template}?period={}&unit={}",
            fx.report_period, unit.code
        )),
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/accept") => {
            (format!("{report}/accept"), Body::IfMatchAny(None))
        }
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/reopen") => (
            format!("{report}/reopen"),
            Body::IfMatchAny(Some(json!({ "reason": "Số liệu cần rà soát lại." }))),
        ),
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/return") => (
            format!("{report}/return"),
            Body::IfMatchAny(Some(json!({ "reason": "Thiếu số liệu mục B." }))),
        ),
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/approve") => {
            (format!("{report}/approve"), Body::IfMatchAny(None))
        }
        ("post", "/api/v1/periods/{period_id}/reports/{unit}/decline") => (
            format!("{report}/decline"),
            Body::IfMatchAny(Some(json!({ "reason": "Thiếu số liệu mục B." }))),
        ),
        ("get", "/api/v1/periods/{period_id}/compilation") => none(&format!(
            "/api/v1/periods/{}/compilation?unit={}",
            fx.report_period, unit.code
        )),
        ("get", "/api/v1/indicators/trend") => none(&format!(
            "{template}?indicator={INDICATOR}&unit={}",
            unit.code
        )),
        ("get", "/api/v1/webhooks") => none(template),
        ("post", "/api/v1/webhooks") => (
            template.into(),
            Body::Json(json!({
                "url": format!("https://receiver-{n}.example.invalid/hook"),
                "event_types": ["report.submitted"], "unit": unit.code,
            })),
        ),
        ("get" | "delete", "/api/v1/webhooks/{webhook_id}") => none(&webhook),
        ("patch", "/api/v1/webhooks/{webhook_id}") => (
            webhook,
            Body::Json(json!({ "description": format!("Nhận sự kiện {n}") })),
        ),
        ("post", "/api/v1/webhooks/{webhook_id}/rotate-secret") => {
            none(&format!("{webhook}/rotate-secret"))
        }
        ("post", "/api/v1/webhooks/{webhook_id}/test") => none(&format!("{webhook}/test")),
        ("get", "/api/v1/webhooks/{webhook_id}/deliveries") => {
            none(&format!("{webhook}/deliveries"))
        }
        ("get", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}") => {
            none(&format!("{webhook}/deliveries/{delivery}"))
        }
        ("post", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver") => {
            none(&format!("{webhook}/deliveries/{delivery}/redeliver"))
        }
        other => panic!("no request built for {other:?}: add it to `request`"),
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &Body,
    token: Option<&str>,
) -> reqwest::Response {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(v),
        Body::Form(f) => req.form(f),
        Body::Binary(bytes, content_type, if_match) => {
            let req = req
                .header("content-type", *content_type)
                .body(bytes.clone());
            if *if_match {
                req.header("if-match", "*")
            } else {
                req
            }
        }
        Body::IfMatchAny(v) => {
            let req = req.header("if-match", "*");
            match v {
                Some(v) => req.json(v),
                None => req,
            }
        }
    };
    req.send().await.unwrap()
}

/// Every (method, path) of the OpenAPI document with its documented statuses and
/// whether it declares a security requirement.
fn documented_operations() -> HashMap<(String, String), (BTreeSet<u16>, bool)> {
    let doc = serde_json::to_value(gereport::openapi::document()).unwrap();
    let mut ops = HashMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|s| s.parse().unwrap())
                .collect();
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            ops.insert((method.clone(), path.clone()), (statuses, secured));
        }
    }
    ops
}

#[test]
fn the_matrix_covers_every_documented_endpoint() {
    let documented = documented_operations();
    let rows = matrix();
    let in_matrix: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(in_matrix.len(), rows.len(), "a row appears twice");
    let in_doc: BTreeSet<(String, String)> = documented.keys().cloned().collect();
    let missing: Vec<_> = in_doc.difference(&in_matrix).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a row in the authorization matrix (tests/api/authz.rs): {missing:?}"
    );
    let stale: Vec<_> = in_matrix.difference(&in_doc).collect();
    assert!(
        stale.is_empty(),
        "rows for endpoints that no longer exist: {stale:?}"
    );
    for r in &rows {
        let (_, secured) = &documented[&(r.method.to_string(), r.path.to_string())];
        assert_eq!(
            !secured, r.public,
            "{} {}: public in the matrix but not in the document, or the reverse",
            r.method, r.path
        );
        assert!(
            !r.public || r.own.iter().all(|s| *s == r.own[0]),
            "{} {}: a public endpoint answers the same whoever calls",
            r.method,
            r.path
        );
    }
}

/// The `id` of a 201 response's body.
async fn created_id(res: reqwest::Response) -> String {
    assert_json(res, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A plan issued by `unit`, made by the admin with the default form, an indicator and
/// an open period whose data window ends in a month and which is due in two.
async fn plan_with_objects(app: &TestApp, admin: &str, unit: &str) -> PlanObjects {
    let today = today_vn();
    let id = created_id(
        app.post_as(
            "/api/v1/plans",
            admin,
            &json!({
                "year": 2025, "document_number": format!("1/KH-{unit}"),
                "title": format!("Kế hoạch bình đẳng giới của {unit}"),
                "issuing_unit": unit, "form": default_form_2024().unwrap(),
            }),
        )
        .await,
    )
    .await;
    let indicator = created_id(
        app.post_as(
            &format!("/api/v1/plans/{id}/indicators"),
            admin,
            &json!({
                "code": INDICATOR, "name_vi": "Tỷ lệ đơn vị có lãnh đạo nữ",
                "name_en": "Share of units with a woman among their leaders",
                "formula": "count(leaders_female >= 1) / count()",
                "target": 1.0, "direction": "at_least", "source": "Kế hoạch",
            }),
        )
        .await,
    )
    .await;
    let period = created_id(
        app.post_as(
            &format!("/api/v1/plans/{id}/periods"),
            admin,
            &json!({
                "kind": "ad_hoc", "code": "CUR", "name": "Kỳ hiện tại",
                "window_start": today - days(90), "window_end": today + days(30),
                "due_date": today + days(60),
            }),
        )
        .await,
    )
    .await;
    let task = created_id(
        app.post_as(
            &format!("/api/v1/plans/{id}/tasks"),
            admin,
            &json!({ "code": "III.1", "title_vi": "Kiện toàn Ban Vì sự tiến bộ của phụ nữ", "lead_unit": unit }),
        )
        .await,
    )
    .await;
    PlanObjects {
        id,
        indicator,
        period,
        task,
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_matrix_says() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let admin = tree.admin.clone();
    let mut leaf = HashMap::new();
    leaf.insert(
        "a",
        create_unit(&app, &admin, "LEAF-A", "Tổ A", "other", Some("OFFICE-A")).await,
    );
    leaf.insert(
        "b",
        create_unit(&app, &admin, "LEAF-B", "Tổ B", "other", Some("OFFICE-B")).await,
    );
    let mut clients = HashMap::new();
    let mut grant_client = (String::new(), String::new());
    for (key, unit) in [("a", "OFFICE-A"), ("b", "OFFICE-B"), ("grant", "OFFICE-A")] {
        let body = assert_json(
            app.post_as(
                "/api/v1/service-clients",
                &admin,
                &json!({ "name": format!("client {key}"), "role": "viewer", "unit": unit }),
            )
            .await,
            201,
        )
        .await;
        if key == "grant" {
            grant_client = (
                body["client_id"].as_str().unwrap().into(),
                body["client_secret"].as_str().unwrap().into(),
            );
        } else {
            clients.insert(key, body["id"].as_str().unwrap().to_string());
        }
    }
    let mut plans = HashMap::new();
    plans.insert("a", plan_with_objects(&app, &admin, "OFFICE-A").await);
    plans.insert("b", plan_with_objects(&app, &admin, "OFFICE-B").await);
    // Both offices report under the root's plan; their reports start as complete drafts.
    let report_period = plan_with_objects(&app, &admin, "SVHTT").await.period;
    for unit in ["OFFICE-A", "OFFICE-B"] {
        let res = app
            .authed(
                Method::PUT,
                &format!("/api/v1/periods/{report_period}/reports/{unit}"),
                &admin,
            )
            .json(&complete_report(today_vn() - days(90)))
            .send()
            .await
            .unwrap();
        assert_json(res, 201).await;
    }
    let mut webhooks = HashMap::new();
    for (key, unit) in [("a", "OFFICE-A"), ("b", "OFFICE-B")] {
        let id = created_id(
            app.post_as(
                "/api/v1/webhooks",
                &admin,
                &json!({
                    "url": format!("https://receiver-{key}.example.invalid/hook"),
                    "event_types": ["report.submitted", "period.locked"], "unit": unit,
                }),
            )
            .await,
        )
        .await;
        let delivery = assert_json(
            app.post_as(&format!("/api/v1/webhooks/{id}/test"), &admin, &json!({}))
                .await,
            202,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        webhooks.insert(key, (id, delivery));
    }
    // The periods made above told both offices' reporters of their due dates.
    let mut notifications = HashMap::new();
    for (key, username) in [("a", "reporter_a"), ("b", "reporter_b")] {
        let token = tree.token(&app, username).await;
        let list = assert_json(app.get_as("/api/v1/me/notifications", &token).await, 200).await;
        notifications.insert(key, list["items"][0]["id"].as_str().unwrap().to_string());
    }
    let mut tokens = HashMap::new();
    const USERNAMES: [(&str, &str); 4] = [
        ("admin", "admin"),
        ("coordinator", "coordinator_a"),
        ("viewer", "viewer_a"),
        ("reporter", "reporter_a"),
    ];
    for (role, username) in USERNAMES {
        tokens.insert(role, tree.token(&app, username).await);
    }
    let mut workbooks = HashMap::new();
    let mut attachments = HashMap::new();
    for (key, unit) in [("a", "OFFICE-A"), ("b", "OFFICE-B")] {
        let report = format!("/api/v1/periods/{report_period}/reports/{unit}");
        let res = app.get_as(&format!("{report}/template.xlsx"), &admin).await;
        assert_eq!(res.status(), 200);
        workbooks.insert(key, res.bytes().await.unwrap().to_vec());
        let res = app
            .authed(
                Method::POST,
                &format!("{report}/attachments?kind=signed_report&filename=bao-cao.pdf"),
                &admin,
            )
            .header("content-type", "application/pdf")
            .body(PDF)
            .send()
            .await
            .unwrap();
        attachments.insert(key, created_id(res).await);
    }
    let mut fx = Fixture {
        tree,
        leaf,
        clients,
        grant_client,
        plans,
        report_period,
        webhooks,
        notifications,
        tokens,
        workbooks,
        attachments,
    };

    let documented = documented_operations();
    let mut n = 0;
    let mut failures = Vec::new();
    for r in matrix() {
        let (statuses, _) = &documented[&(r.method.to_string(), r.path.to_string())];
        let mut sides = vec![(Side::Own, r.own)];
        if let Some(f) = r.foreign {
            sides.push((Side::Foreign, f));
        }
        for (side, expected) in sides {
            // Anonymous first, then the least privileged role, the admin last.
            let mut callers: Vec<(&str, Option<String>, u16)> = Vec::new();
            if side == Side::Own {
                callers.push(("anonymous", None, if r.public { r.own[0] } else { 401 }));
            }
            for i in (0..4).rev() {
                callers.push((ROLES[i], Some(fx.tokens[ROLES[i]].clone()), expected[i]));
            }
            for (who, token, want) in callers {
                n += 1;
                let (path, body) = request(&fx, r.method, r.path, side, who, n);
                let res = send(&app, r.method, &path, &body, token.as_deref()).await;
                let got = res.status().as_u16();
                // A password change ends the caller's sessions, and a reset those of
                // its target (reporter_a on the own side, as the reporter caller is):
                // they log in again. (The old token keeps working for as long as a
                // process holds the account in its cache, under two seconds.)
                let ended = match (r.path, side) {
                    ("/api/v1/me/password", _) => Some(who),
                    ("/api/v1/users/{user_id}/password", Side::Own) => Some("reporter"),
                    _ => None,
                };
                if got == 204
                    && let Some(ended) = ended
                    && let Some((role, username)) = USERNAMES.iter().find(|(r, _)| *r == ended)
                {
                    // (Not `Tree::token`, which hands out the token it cached.)
                    let pw = if ended == "admin" {
                        ADMIN_PASSWORD
                    } else {
                        PASSWORD
                    };
                    let fresh = crate::helpers::login(&app, username, pw).await.access_token;
                    fx.tokens.insert(role, fresh);
                }
                let what = format!("{} {path} as {who} ({side:?})", r.method.to_uppercase());
                if !statuses.contains(&got) {
                    failures.push(format!("{what}: {got} is not documented ({statuses:?})"));
                }
                if got != want {
                    let text = res.text().await.unwrap();
                    failures.push(format!("{what}: got {got}, want {want}: {text}"));
                    continue;
                }
                if got >= 400 {
                    let (code, field) = match (got, who) {
                        (401, "anonymous") if !r.public => ("missing_token", None),
                        (401, _) => ("invalid_refresh_token", None),
                        (403, _) => ("forbidden", None),
                        (404, _) => ("not_found", None),
                        (409, _) if r.path.ends_with("{attachment_id}") => {
                            ("attachment_frozen", None)
                        }
                        // Past authorization, the workflow refused the transition.
                        (409, _) => ("illegal_transition", None),
                        (422, _) if r.path == "/api/v1/plans" => {
                            ("validation_failed", Some("body.issuing_unit"))
                        }
                        (422, _) if r.path == "/api/v1/webhooks" => {
                            ("validation_failed", Some("body.unit"))
                        }
                        _ => unreachable!("{what}: no code expected for {got}"),
                    };
                    let body = assert_problem(res, got, code).await;
                    assert_eq!(body["instance"], path.split('?').next().unwrap(), "{what}");
                    if let Some(field) = field {
                        assert_eq!(body["errors"][0]["path"], field, "{what}: {body}");
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // The refused writes changed nothing: the only units, users, clients, plans,
    // indicators and periods beyond the fixture are those of the writes the matrix
    // allowed (the admin's, one per side, and the coordinator's on its own side), and
    // every audit event of a write is one of those.
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM org_units WHERE code LIKE 'NEW-%'")
            .await,
        2
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE username LIKE 'new_user_%'")
            .await,
        2
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM service_clients")
            .await,
        5
    );
    for (table, like) in [
        ("plans", "document_number LIKE 'NEW-%'"),
        ("indicators", "code LIKE 'new_%'"),
        ("periods", "code LIKE 'NEW-%'"),
    ] {
        assert_eq!(
            app.db_i64(&format!("SELECT count(*) AS n FROM {table} WHERE {like}"))
                .await,
            3,
            "{table}"
        );
    }
    // A's report was submitted by its reporter and B's by the admin, once each; both
    // were then accepted and reopened.
    assert_eq!(
        app.db_text(
            "SELECT string_agg(u.code || ':' || r.status || ':' || v.submitted_by, ',' \
             ORDER BY u.code) AS t FROM reports r JOIN org_units u ON u.id = r.unit_id \
             JOIN report_revisions v ON v.report_id = r.id"
        )
        .await,
        "OFFICE-A:returned:reporter_a,OFFICE-B:returned:admin"
    );
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM audit_events WHERE action NOT LIKE 'auth.%' \
             AND action <> 'user.change_password' AND actor_kind <> 'system' \
             AND actor_name NOT IN ('admin', 'coordinator_a', 'reporter_a')"
        )
        .await,
        0
    );
    for (actor, actions) in [
        (
            "coordinator_a",
            "attachment.upload,indicator.create,indicator.update,org_unit.document_settings,\
             period.create,period.expected_unit.add,period.expected_unit.remove,period.extend_due_date,\
             period.lock,period.remind,period.reminders,period.unlock,period.update,plan.copy,\
             plan.create,plan.data_element_codes.save,plan.form.save,plan.update,\
             report.accept,report.reopen,report.save,report.save,task.create,task.delete,\
             task.update,webhook.create,webhook.delete,webhook.redeliver,\
             webhook.rotate_secret,webhook.test,webhook.update",
        ),
        (
            "reporter_a",
            "attachment.upload,report.save,report.save,report.submit",
        ),
    ] {
        assert_eq!(
            app.db_text(&format!(
                "SELECT coalesce(string_agg(action, ',' ORDER BY action), '') AS t \
                 FROM audit_events WHERE actor_name = '{actor}' \
                 AND action NOT LIKE 'auth.%' AND action <> 'user.change_password'"
            ))
            .await,
            actions,
            "the writes of {actor}"
        );
    }
    // Each actor's own password change was recorded as such, once.
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM audit_events WHERE action = 'user.change_password'")
            .await,
        4
    );
}

#[tokio::test]
async fn a_role_cannot_be_raised_through_a_request_body() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let reporter = tree.token(&app, "reporter_a").await;
    let coordinator = tree.token(&app, "coordinator_a").await;
    let me = format!("/api/v1/users/{}", tree.reporter_a.id);

    // A reporter editing itself.
    for body in [
        json!({ "role": "admin" }),
        json!({ "unit": "SVHTT" }),
        json!({ "display_name": "harmless" }),
    ] {
        assert_problem(app.patch_as(&me, &reporter, &body).await, 403, "forbidden").await;
    }
    // A coordinator promoting itself or anyone of its own unit.
    for id in [
        &tree.coordinator_a.id,
        &tree.viewer_a.id,
        &tree.reporter_a.id,
    ] {
        assert_problem(
            app.patch_as(
                &format!("/api/v1/users/{id}"),
                &coordinator,
                &json!({ "role": "admin" }),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    // There is no writable /me, and fields that do not exist are refused, not ignored.
    let res = app
        .authed(Method::PATCH, "/api/v1/me", &reporter)
        .json(&json!({ "role": "admin" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 405, "method_not_allowed").await;
    let body = assert_problem(
        app.post_as(
            "/api/v1/me/password",
            &reporter,
            &json!({ "current_password": PASSWORD, "new_password": PASSWORD, "role": "admin" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.role");
    let body = assert_problem(
        app.post_as(
            "/api/v1/users",
            &tree.admin,
            &json!({
                "username": "sneaky", "display_name": "Sneaky", "role": "viewer",
                "unit": "OFFICE-A", "password": "long-enough-password", "is_superuser": true,
            }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.is_superuser");
    let body = assert_problem(
        app.patch_as(
            &me,
            &tree.admin,
            &json!({ "display_name": "x", "scope": "SVHTT" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.scope");
    // Logging in cannot choose a role either.
    let body = assert_problem(
        app.post_json(
            "/api/v1/auth/login",
            &json!({ "username": "reporter_a", "password": PASSWORD, "role": "admin" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.role");

    // Nothing changed: one admin, the reporter as it was, no `sneaky`, no audit trace.
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE role = 'admin'")
            .await,
        1
    );
    let m = assert_json(app.get_as("/api/v1/me", &reporter).await, 200).await;
    assert_eq!(m["role"], "reporter");
    assert_eq!(m["user"]["unit_code"], "OFFICE-A");
    assert_eq!(m["user"]["display_name"], "Người dùng reporter_a");
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE username = 'sneaky'")
            .await,
        0
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM audit_events WHERE action = 'user.update'")
            .await,
        0
    );
    // The admin, for its part, cannot lock itself out by demoting itself.
    let admin_id = assert_json(app.get_as("/api/v1/me", &tree.admin).await, 200).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for body in [json!({ "role": "viewer" }), json!({ "active": false })] {
        assert_problem(
            app.patch_as(&format!("/api/v1/users/{admin_id}"), &tree.admin, &body)
                .await,
            409,
            "self_lockout",
        )
        .await;
    }
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn scope_decides_what_each_role_sees_of_the_tree() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let admin = &tree.admin;
    create_unit(&app, admin, "TEAM-A1", "Tổ A1", "other", Some("OFFICE-A")).await;
    create_unit(
        &app,
        admin,
        "TEAM-A1X",
        "Nhóm A1X",
        "other",
        Some("TEAM-A1"),
    )
    .await;
    create_unit(&app, admin, "TEAM-B1", "Tổ B1", "other", Some("OFFICE-B")).await;

    let everyone = [
        "OFFICE-A", "OFFICE-B", "SVHTT", "TEAM-A1", "TEAM-A1X", "TEAM-B1",
    ];
    let subtree_a = ["OFFICE-A", "TEAM-A1", "TEAM-A1X"];
    for (user, expected) in [
        ("admin", &everyone[..]),
        ("coordinator_a", &subtree_a[..]),
        ("viewer_a", &subtree_a[..]),
        ("reporter_a", &["OFFICE-A"][..]),
        ("reporter_b", &["OFFICE-B"][..]),
    ] {
        let token = tree.token(&app, user).await;
        let page = assert_json(app.get_as("/api/v1/org-units", &token).await, 200).await;
        assert_eq!(codes(&page), expected, "{user}");
        assert_eq!(page["total"], expected.len(), "{user}");
        // Searching does not reach past the scope.
        let page = assert_json(app.get_as("/api/v1/org-units?q=B", &token).await, 200).await;
        assert!(
            codes(&page).iter().all(|c| expected.contains(&c.as_str())),
            "{user}: {page}"
        );
    }

    let reporter_a = tree.token(&app, "reporter_a").await;
    // A reporter of A cannot see B, by code, by id, as a subtree or as a parent ...
    for path in [
        "/api/v1/org-units/OFFICE-B".to_string(),
        "/api/v1/org-units/office-b".to_string(),
        format!("/api/v1/org-units/{}", tree.b.id),
        "/api/v1/org-units/OFFICE-B/subtree".to_string(),
        "/api/v1/org-units?parent=OFFICE-B".to_string(),
        // ... nor what is below its own unit, nor the root above it.
        "/api/v1/org-units/TEAM-A1".to_string(),
        format!("/api/v1/org-units/{}", tree.root.id),
    ] {
        let body = assert_problem(app.get_as(&path, &reporter_a).await, 404, "not_found").await;
        // The same answer as for a unit that does not exist at all.
        assert_eq!(body["detail"], "org unit not found", "{path}");
    }
    assert_problem(
        app.get_as("/api/v1/org-units/NO-SUCH-UNIT", &reporter_a)
            .await,
        404,
        "not_found",
    )
    .await;
    // Its own subtree is its unit alone.
    let page = assert_json(
        app.get_as("/api/v1/org-units/OFFICE-A/subtree", &reporter_a)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&page), ["OFFICE-A"]);

    // A coordinator of A sees A's subtree in tree order, and not B's or the root.
    let coordinator = tree.token(&app, "coordinator_a").await;
    let page = assert_json(
        app.get_as("/api/v1/org-units/OFFICE-A/subtree", &coordinator)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&page), subtree_a);
    let page = assert_json(
        app.get_as("/api/v1/org-units?parent=OFFICE-A", &coordinator)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&page), ["TEAM-A1"]);
    for path in [
        "/api/v1/org-units/TEAM-B1",
        "/api/v1/org-units/SVHTT",
        "/api/v1/org-units/SVHTT/subtree",
    ] {
        assert_problem(app.get_as(path, &coordinator).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn the_audit_log_is_for_admins_and_coordinators_within_their_scope() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let admin = &tree.admin;
    // One write in A, one in B.
    app.patch_as(
        "/api/v1/org-units/OFFICE-A",
        admin,
        &json!({ "name": "Phòng A mới" }),
    )
    .await;
    app.patch_as(
        "/api/v1/org-units/OFFICE-B",
        admin,
        &json!({ "name": "Phòng B mới" }),
    )
    .await;

    let all = assert_json(
        app.get_as("/api/v1/audit?object_type=org_unit&limit=500", admin)
            .await,
        200,
    )
    .await;
    let ids = |page: &Value| -> BTreeSet<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["object_id"].as_str().unwrap().to_string())
            .collect()
    };
    // SVHTT (create-admin), A and B created, A and B updated.
    assert_eq!(all["total"], 5, "{all}");
    assert_eq!(
        ids(&all),
        BTreeSet::from([tree.root.id.clone(), tree.a.id.clone(), tree.b.id.clone()])
    );

    let coordinator = tree.token(&app, "coordinator_a").await;
    let mine = assert_json(
        app.get_as("/api/v1/audit?object_type=org_unit", &coordinator)
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&mine), BTreeSet::from([tree.a.id.clone()]), "{mine}");
    assert_eq!(mine["total"], 2);
    let theirs = assert_json(
        app.get_as(
            &format!("/api/v1/audit?object_id={}", tree.b.id),
            &coordinator,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    // Users of A (created by the admin) are A's events; reporter_b is not.
    let users = assert_json(
        app.get_as("/api/v1/audit?object_type=user&limit=500", &coordinator)
            .await,
        200,
    )
    .await;
    let user_ids = ids(&users);
    assert!(
        user_ids.contains(&tree.reporter_a.id) && !user_ids.contains(&tree.reporter_b.id),
        "{users}"
    );

    for user in ["viewer_a", "reporter_a", "reporter_b"] {
        let token = tree.token(&app, user).await;
        assert_problem(app.get_as("/api/v1/audit", &token).await, 403, "forbidden").await;
    }
}
