/**
 * A small gereport client for browser frontends, built on openapi-fetch.
 *
 * Every type here comes from src/schema.d.ts, which `npm run generate` makes
 * from openapi/openapi.json; `npm run check` compiles this file against it, so
 * a change to the document that would break a frontend breaks CI first.
 *
 * Conventions:
 * - Each function resolves with the success body (and the ETag where the API
 *   hands one out) and throws an `ApiProblem` for an error answer, so callers
 *   write the happy path and handle problems in one `catch`.
 * - A middleware attaches the access token; a 401 triggers one token refresh,
 *   shared by every request that saw it, and one retry of the request.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema";

// ---- Types under the names a frontend uses ---------------------------------

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type Issue = Schemas["Issue"];
export type TokenResponse = Schemas["TokenResponse"];
export type OrgUnit = Schemas["OrgUnit"];
export type Report = Schemas["Report"];
export type ReportData = Schemas["ReportData"];
export type ReportStatus = Schemas["ReportStatus"];
export type FormVersion = Schemas["FormVersion"];
export type Compilation = Schemas["Compilation"];
// Bulk data for scripts and city systems: the batch import, the tidy table's rows,
// a plan's data element codes for ADX.
export type BatchRequest = Schemas["BatchRequest"];
export type BatchResult = Schemas["BatchResult"];
export type DataRow = Schemas["DataRow"];
export type DataElementCodes = Schemas["DataElementCodes"];

/** Field values by field code. They are data by design: the plan's form, not
 * the API schema, says what each one holds, so they stay `unknown`. */
export type FormValues = NonNullable<ReportData["values"]>;

/** Filters of GET /org-units; paging is left to `allOrgUnits`. */
export type OrgUnitFilter = Omit<NonNullable<operations["listOrgUnits"]["parameters"]["query"]>, "limit" | "offset">;
/** Query of GET /reports: period, unit, status, late, limit, offset. */
export type ReportFilter = NonNullable<operations["listReports"]["parameters"]["query"]>;
/** Query of GET /periods/{period_id}/compilation, always asked for as JSON. */
export type CompilationQuery = Omit<NonNullable<operations["getCompilation"]["parameters"]["query"]>, "format">;

/** Only the JSON answers are read: CSV/XLSX/DOCX downloads are plain links. */
type Media = "application/json" | "application/problem+json";
export type ApiClient = Client<paths, Media>;

// ---- Problems (RFC 9457) -----------------------------------------------------

/** An error answer, sorted by what the UI does about it. */
export type ProblemOutcome =
  /** 401: wrong login, or the session is over (the one refresh failed too). */
  | { kind: "unauthorized"; problem: Problem }
  /** 412: someone saved in between; reload at `currentEtag`, reapply the edit. */
  | { kind: "stale"; problem: Problem; currentEtag: string | null }
  /** 422: show each issue next to the field its `path` names. */
  | { kind: "invalid"; problem: Problem; errors: Issue[] }
  /** 429: wait `retryAfterSeconds` (when the server said) before trying again. */
  | { kind: "rate_limited"; problem: Problem; retryAfterSeconds: number | null }
  /** Anything else: show `problem.detail`, branch on `problem.code` if needed. */
  | { kind: "other"; problem: Problem }
  /** No problem document at all: a proxy's error page, an empty body. */
  | { kind: "unreadable"; status: number; text: string };

/** What every function below throws for an error answer; a `catch` checks
 * `e instanceof ApiProblem` and then switches on `e.outcome.kind`. */
export class ApiProblem extends Error {
  constructor(readonly outcome: ProblemOutcome, readonly response: Response) {
    super(
      outcome.kind === "unreadable"
        ? `${outcome.status}: answered without a problem document`
        : `${outcome.problem.status} ${outcome.problem.code}: ${outcome.problem.detail}`,
    );
    this.name = "ApiProblem";
  }
}

/** Retry-After holds delta-seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Turns an error answer into a ProblemOutcome. `body` is what openapi-fetch
 * parsed: the problem document, or text (or nothing) when something in front
 * of the API, such as a proxy, answered with a page of its own. `problem.code`
 * is a closed list in the document, so no code is made up for the latter.
 */
export function toProblem(body: Problem | string | undefined, response: Response): ProblemOutcome {
  const { status, headers } = response;
  if (typeof body !== "object") return { kind: "unreadable", status, text: body ?? "" };
  const problem = body;
  switch (status) {
    case 401:
      return { kind: "unauthorized", problem };
    case 412: // `current_etag` names the report's version now: reload at it, reapply the edit
      return { kind: "stale", problem, currentEtag: problem.current_etag ?? headers.get("ETag") };
    case 422:
      return { kind: "invalid", problem, errors: problem.errors ?? [] };
    case 429:
      return { kind: "rate_limited", problem, retryAfterSeconds: parseRetryAfter(headers.get("Retry-After")) };
    default:
      return { kind: "other", problem };
  }
}

/** Groups 422 issues by the path they point at (`values.staff_female`, ...). */
export function issuesByPath(errors: readonly Issue[]): Map<string, Issue[]> {
  const byPath = new Map<string, Issue[]>();
  for (const issue of errors) byPath.set(issue.path, [...(byPath.get(issue.path) ?? []), issue]);
  return byPath;
}

/** The success body of an openapi-fetch result; throws ApiProblem otherwise. */
function unwrap<T>(result: { data?: T; error?: Problem; response: Response }): T {
  if (result.data === undefined || !result.response.ok) {
    throw new ApiProblem(toProblem(result.error, result.response), result.response);
  }
  return result.data;
}

/** The ETag a read or write answered with; the API promises one. */
function etagOf(response: Response): string {
  const etag = response.headers.get("ETag");
  if (etag === null) throw new Error(`${response.url}: answer without an ETag`);
  return etag;
}

// ---- Tokens and the refresh middleware ---------------------------------------

export interface Tokens {
  access: string;
  /** Single use; absent for service clients. */
  refresh: string | null;
}

/** Where the tokens live: memory by default, a frontend may use storage. */
export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export function memoryTokenStore(): TokenStore {
  let tokens: Tokens | null = null;
  return { get: () => tokens, set: (next) => void (tokens = next) };
}

/** Requests that never carry (nor retry with) the access token. */
const AUTH_PATHS = new Set(["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/token"]);

/**
 * Sets `Authorization` on each request; on a 401 refreshes the tokens once
 * (`refresh` is shared, so concurrent 401s cause a single refresh) and retries
 * the request once. A request body is read when sent, so a copy is kept.
 */
function authMiddleware(store: TokenStore, refresh: () => Promise<boolean>): Middleware {
  const copies = new Map<string, Request>();
  const bearer = () => {
    const access = store.get()?.access;
    return access === undefined ? null : `Bearer ${access}`;
  };
  return {
    onRequest({ request, schemaPath, id }) {
      if (AUTH_PATHS.has(schemaPath)) return undefined;
      const auth = bearer();
      if (auth !== null) request.headers.set("Authorization", auth);
      copies.set(id, request.clone());
      return request;
    },
    async onResponse({ response, id, options }) {
      const copy = copies.get(id);
      copies.delete(id);
      if (response.status !== 401 || copy === undefined) return undefined;
      // Another request may have refreshed since this one left: then just retry.
      const refreshed = bearer() !== copy.headers.get("Authorization") || (await refresh());
      const auth = bearer();
      if (!refreshed || auth === null) return undefined;
      copy.headers.set("Authorization", auth);
      return options.fetch(copy);
    },
    onError: ({ id }) => void copies.delete(id),
  };
}

// ---- The API -----------------------------------------------------------------

export function createGereportClient(baseUrl: string, store: TokenStore = memoryTokenStore()) {
  const client: ApiClient = createClient<paths, Media>({ baseUrl });
  const remember = (t: TokenResponse) => store.set({ access: t.access_token, refresh: t.refresh_token ?? null });

  let refreshing: Promise<boolean> | null = null;
  /** Trades the refresh token for new tokens; false when the session is over. */
  async function refreshOnce(): Promise<boolean> {
    const refreshToken = store.get()?.refresh;
    if (refreshToken === undefined || refreshToken === null) return false;
    const { data } = await client.POST("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } });
    if (data === undefined) store.set(null);
    else remember(data);
    return data !== undefined;
  }
  client.use(authMiddleware(store, () => (refreshing ??= refreshOnce().finally(() => (refreshing = null)))));

  return {
    /** The underlying openapi-fetch client, for calls not wrapped here. */
    client,

    /** POST /auth/login; keeps the tokens in the store. */
    async login(username: string, password: string): Promise<TokenResponse> {
      const tokens = unwrap(await client.POST("/api/v1/auth/login", { body: { username, password } }));
      remember(tokens);
      return tokens;
    },

    /** GET /org-units, every page in turn (`{items, total, limit, offset}`). */
    async *allOrgUnits(filter: OrgUnitFilter = {}, pageSize = 100): AsyncGenerator<OrgUnit, void> {
      for (let offset = 0; ; ) {
        const query = { ...filter, limit: pageSize, offset };
        const page = unwrap(await client.GET("/api/v1/org-units", { params: { query } }));
        yield* page.items;
        offset += page.items.length;
        if (page.items.length === 0 || offset >= page.total) return;
      }
    },

    /** GET a unit's report for a period, with the ETag a save must send back. */
    async getReport(periodId: string, unit: string): Promise<{ report: Report; etag: string }> {
      const result = await client.GET("/api/v1/periods/{period_id}/reports/{unit}", {
        params: { path: { period_id: periodId, unit } },
      });
      return { report: unwrap(result), etag: etagOf(result.response) };
    },

    /** GET the plan's form (the current version unless `version` is given). */
    async getPlanForm(planId: string, version?: number): Promise<FormVersion> {
      return unwrap(
        await client.GET("/api/v1/plans/{plan_id}/form", { params: { path: { plan_id: planId }, query: { version } } }),
      );
    },

    /** PUT the draft. `etag` is null only for the first save, which creates it. */
    async saveReportDraft(periodId: string, unit: string, data: ReportData, etag: string | null) {
      const result = await client.PUT("/api/v1/periods/{period_id}/reports/{unit}", {
        params: { path: { period_id: periodId, unit }, header: { "If-Match": etag ?? undefined } },
        body: data,
      });
      const report: Report = unwrap(result);
      return { report, etag: etagOf(result.response), created: result.response.status === 201 };
    },

    /** POST .../submit. Reuse `idempotencyKey` when retrying after a lost answer. */
    async submitReport(periodId: string, unit: string, etag: string, idempotencyKey: string = crypto.randomUUID()) {
      const result = await client.POST("/api/v1/periods/{period_id}/reports/{unit}/submit", {
        params: { path: { period_id: periodId, unit }, header: { "If-Match": etag, "Idempotency-Key": idempotencyKey } },
      });
      const report: Report = unwrap(result);
      const replayed = result.response.headers.get("Idempotent-Replayed") === "true";
      return { report, etag: etagOf(result.response), replayed };
    },

    /** GET /reports filtered by period, unit, status and lateness; one page. */
    async listReports(filter: ReportFilter = {}) {
      return unwrap(await client.GET("/api/v1/reports", { params: { query: filter } }));
    },

    /** GET the compilation as JSON; null when `knownEtag` is still current (304). */
    async getCompilation(periodId: string, query: CompilationQuery = {}, knownEtag?: string) {
      const result = await client.GET("/api/v1/periods/{period_id}/compilation", {
        params: {
          path: { period_id: periodId },
          query: { ...query, format: "json" },
          header: { "If-None-Match": knownEtag },
        },
      });
      if (result.response.status === 304) return null;
      const compilation: Compilation = unwrap(result);
      return { compilation, etag: etagOf(result.response) };
    },
  };
}

export type GereportClient = ReturnType<typeof createGereportClient>;
