// Driver of scripts/browser-check: serves page.html from two origins of its own,
// loads it in Debian's Chromium through playwright-core (no browser of Playwright's
// own is ever downloaded), reads back what the page's script could see, adds a few
// raw HTTP checks of the CORS answers, and prints a PASS/FAIL table.
//
// Environment (set by scripts/browser-check):
//   BC_API        API origin, e.g. http://127.0.0.1:41234 (gereport already serving)
//   BC_PAGE_PORT  port of the allowed origin (http://127.0.0.1:PORT is in GEREPORT_CORS_ORIGINS)
//   BC_FOREIGN_PORT  port of an origin that is NOT allowed
//   BC_CHROMIUM   Chromium executable (default /usr/bin/chromium)
//   BC_OUT        directory for results.json, console.log and Chromium's profile
//   BC_TIMEOUT_MS how long one page may take (default 300000)
// Exit code: 0 every check passed, 1 a check failed, 2 the run itself broke.

import http from 'node:http';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const API = process.env.BC_API;
const PAGE_PORT = Number(process.env.BC_PAGE_PORT);
const FOREIGN_PORT = Number(process.env.BC_FOREIGN_PORT);
const CHROMIUM = process.env.BC_CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.BC_OUT || path.join(here, 'out');
const TIMEOUT = Number(process.env.BC_TIMEOUT_MS || 300000);
if (!API || !PAGE_PORT || !FOREIGN_PORT) {
  console.error('browser-check.mjs: BC_API, BC_PAGE_PORT and BC_FOREIGN_PORT are required');
  process.exit(2);
}
const PAGE_ORIGIN = `http://127.0.0.1:${PAGE_PORT}`;
const FOREIGN_ORIGIN = `http://127.0.0.1:${FOREIGN_PORT}`;

const EXPOSED = ['etag', 'location', 'retry-after', 'x-request-id', 'content-disposition', 'idempotent-replayed'];
const ALLOWED_REQUEST = ['authorization', 'content-type', 'accept', 'accept-language', 'if-match', 'if-none-match', 'idempotency-key', 'x-request-id'];

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const say = (msg) => console.error(`browser-check: [${secs()}s] ${msg}`);

// --- the page's two origins -----------------------------------------------------

const pageHtml = readFileSync(path.join(here, 'page.html'));
function staticServer(port) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(pageHtml);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

// --- raw HTTP (no browser): what the server answers to CORS requests -------------

function raw(method, urlPath, headers) {
  return new Promise((resolve) => {
    const req = http.request(API + urlPath, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', (e) => resolve({ status: 0, error: String(e), headers: {} }));
    req.setTimeout(30000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
const listOf = (v) => (v || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

// --- checks ---------------------------------------------------------------------

const results = [];
function check(id, name, fn) {
  let pass = false;
  let detail = '';
  try {
    [pass, detail] = fn();
  } catch (e) {
    pass = false;
    detail = `check crashed: ${e.message}`;
  }
  results.push({ id, name, pass: !!pass, detail });
}
const hdr = (r, name) => (r && r.headers ? r.headers[name] : undefined);
function seen(r) {
  if (!r) return 'not run';
  if (!r.fetched) return `fetch rejected (${r.error}${r.blockedBy ? `; Chromium: ${r.blockedBy}` : ''})`;
  const code = r.body && r.body.code ? ` code=${r.body.code}` : '';
  return `${r.status}${code}`;
}

// Chromium says on the console why it refused a fetch, naming the URL. Its messages
// come in the order of the refused fetches, so per URL the n-th refusal gets the
// n-th message; the reason is shortened to what tells one failure from another.
const CORS_MSG = /Access to fetch at '([^']+)' from origin '[^']+' has been blocked by CORS policy: (.*)$/;
function shortReason(text) {
  const preflight = /preflight/i.test(text) ? 'preflight: ' : '';
  if (/No 'Access-Control-Allow-Origin' header/.test(text)) return `${preflight}no Access-Control-Allow-Origin`;
  const m = text.match(/Request header field (\S+) is not allowed/);
  if (m) return `preflight: ${m[1]} not allowed`;
  return text.replace(/ If an opaque.*$/, '');
}
function attachReasons(states, consoleLines) {
  const queues = new Map();
  for (const line of consoleLines) {
    const m = line.match(CORS_MSG);
    if (!m) continue;
    if (!queues.has(m[1])) queues.set(m[1], []);
    queues.get(m[1]).push(shortReason(m[2]));
  }
  for (const st of states) {
    const calls = [];
    const walk = (v) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object' && 'seq' in v && 'fetched' in v) calls.push(v);
    };
    Object.values(st.steps || {}).forEach(walk);
    calls.sort((a, b) => a.seq - b.seq);
    for (const c of calls) {
      if (c.fetched) continue;
      const q = queues.get(c.url);
      if (q && q.length) c.blockedBy = q.shift();
    }
  }
}

function evaluate(main, foreign, rawChecks) {
  const s = main.steps || {};
  check('1', 'login (POST JSON) -> 200, token read', () => {
    const r = s.login;
    return [r && r.fetched && r.status === 200 && r.tokenRead, `${seen(r)}, token ${r && r.tokenRead ? 'read' : 'not read'}`];
  });
  check('2', 'GET /me without token -> 401, problem body read', () => {
    const r = s.meNoToken;
    const ok = r && r.fetched && r.status === 401 && r.body && typeof r.body.code === 'string';
    const www = hdr(r, 'www-authenticate');
    return [ok, `${seen(r)}; WWW-Authenticate ${www ? `read: ${www}` : 'not readable (not exposed)'}`];
  });
  check('3', '422 with field errors read (bad new user)', () => {
    const r = s.badUser;
    const errs = r && r.body && Array.isArray(r.body.errors) ? r.body.errors : [];
    const ok = r && r.fetched && r.status === 422 && errs.length >= 1;
    const fields = errs.map((e) => e.path || e.field || '?').join(', ');
    return [ok, `${seen(r)}; errors[]: ${errs.length} (${fields || '-'})`];
  });
  check('4a', 'ETag of a report readable', () => {
    const r = s.reportGet;
    const etag = hdr(r, 'etag');
    return [r && r.fetched && r.status === 200 && !!etag, `${seen(r)}; ETag ${etag ? `read: ${etag}` : 'not readable'}`];
  });
  check('4b', 'PUT with If-Match "stale" -> 412, body read', () => {
    const r = s.stalePut;
    const ok = r && r.fetched && r.status === 412 && r.body && typeof r.body.code === 'string';
    return [ok, seen(r)];
  });
  check('5', '6 wrong logins -> 429, Retry-After read', () => {
    const all = s.wrongLogins || [];
    const last = all[all.length - 1];
    const firstFive = all.slice(0, 5).map((r) => (r.fetched ? r.status : 'rejected')).join(',') + (all[0] && all[0].blockedBy ? ` (${all[0].blockedBy})` : '');
    const ra = hdr(last, 'retry-after');
    const five401 = all.slice(0, 5).every((r) => r.fetched && r.status === 401);
    const ok = all.length === 6 && five401 && last.fetched && last.status === 429 && ra !== undefined && Number(ra) > 0;
    return [ok, `first five: ${firstFive}; sixth: ${seen(last)}; Retry-After ${ra !== undefined ? `read: ${ra}` : 'not readable'}`];
  });
  check('6', 'compilation poll with If-None-Match -> 304', () => {
    const first = s.compilation;
    const etag = hdr(first, 'etag');
    const r = s.compilationNoStore;
    const d = s.compilationDefault;
    const ok = first && first.fetched && first.status === 200 && !!etag && r && r.fetched && r.status === 304;
    let detail = `first ${seen(first)}, ETag ${etag ? 'read' : 'not readable'}; again with If-None-Match, cache no-store: ${r ? seen(r) : 'not sent (no ETag)'}`;
    if (d) detail += `; default cache mode: ${seen(d)}`;
    return [ok, detail];
  });
  check('7', 'X-Request-Id readable on success and on error', () => {
    const okRes = s.meWithToken;
    const errRes = s.meNoToken;
    const a = hdr(okRes, 'x-request-id');
    const b = hdr(errRes, 'x-request-id');
    const echoed = a && okRes.sentRequestId === a;
    const matchesBody = b && errRes.body && errRes.body.request_id === b;
    const ok = okRes && okRes.fetched && okRes.status === 200 && echoed && !!b && matchesBody;
    return [ok, `200 /me: ${a ? (echoed ? 'read, ours echoed' : `read but not ours (${a})`) : `not readable (${seen(okRes)})`}; 401 /me: ${b ? (matchesBody ? 'read, = problem request_id' : 'read, differs from problem request_id') : `not readable (${seen(errRes)})`}`];
  });
  check('8', `other origin (${FOREIGN_ORIGIN}) refused`, () => {
    const f = foreign.steps || {};
    const calls = [['login', f.foreignLogin], ['/me', f.foreignMe], ['/healthz', f.foreignSimple]];
    const ok = calls.every(([, r]) => r && !r.fetched && r.errorName === 'TypeError');
    return [ok, calls.map(([n, r]) => `${n}: ${r ? (r.fetched ? `READ ${r.status}` : `${r.errorName}${r.blockedBy ? ` (${r.blockedBy})` : ''}`) : 'not run'}`).join(', ')];
  });
  // The PUT names If-Match, If-None-Match, Idempotency-Key, Accept-Language (a value
  // too long to be CORS-safelisted) and X-Request-Id in its preflight.
  check('9', 'preflighted PUT (5 extra headers) -> 200', () => {
    const r = s.preflightPut;
    const etag = hdr(r, 'etag');
    const rid = hdr(r, 'x-request-id');
    const ok = r && r.fetched && r.status === 200 && !!etag && rid === r.sentRequestId;
    return [ok, `${seen(r)}; new ETag ${etag ? 'read' : 'not readable'}; X-Request-Id ${rid ? (rid === (r && r.sentRequestId) ? 'ours echoed' : 'not ours') : 'not readable'}`];
  });
  check('10', 'idempotent retry: Idempotent-Replayed readable', () => {
    const a = s.submitFirst;
    const b = s.submitRetry;
    const replayed = hdr(b, 'idempotent-replayed');
    const ok = a && a.fetched && a.status === 200 && b && b.fetched && b.status === 200 && replayed !== undefined;
    return [ok, `submit ${a ? seen(a) : 'not sent'}; retry ${b ? seen(b) : 'not sent'}; Idempotent-Replayed ${replayed !== undefined ? `read: ${replayed}` : 'not readable'}`];
  });
  // Raw HTTP, no browser: the server's own CORS answers, to explain browser failures.
  check('H1', 'http: preflight allows the 8 request headers', () => {
    const r = rawChecks.preflight;
    const allowed = listOf(r.headers['access-control-allow-headers']);
    const missing = ALLOWED_REQUEST.filter((h) => !allowed.includes(h));
    const acao = r.headers['access-control-allow-origin'];
    const methods = listOf(r.headers['access-control-allow-methods']);
    const ok = r.status >= 200 && r.status < 300 && acao === PAGE_ORIGIN && methods.includes('put') && missing.length === 0;
    // One preflight per header says which ones the server refuses.
    const refused = Object.entries(rawChecks.perHeader)
      .filter(([, p]) => !(p.status >= 200 && p.status < 300 && p.headers['access-control-allow-origin'] === PAGE_ORIGIN))
      .map(([h]) => h);
    const why = ok ? 'all allowed' : refused.length ? `refused alone: ${refused.join(', ')}` : `missing from allow-headers: ${missing.join(', ')}`;
    return [ok, `OPTIONS ${r.status || r.error}; allow-origin ${acao || 'absent'}; ${why}`];
  });
  check('H2', 'http: the 6 response headers are exposed', () => {
    const r = rawChecks.exposed;
    const exposed = listOf(r.headers['access-control-expose-headers']);
    const missing = EXPOSED.filter((h) => !exposed.includes(h));
    const ok = r.headers['access-control-allow-origin'] === PAGE_ORIGIN && missing.length === 0;
    return [ok, `GET /healthz ${r.status || r.error}; ${missing.length ? `not exposed: ${missing.join(', ')}` : 'all exposed'}`];
  });
  check('H3', 'http: error answers carry Access-Control-Allow-Origin', () => {
    const r = rawChecks.errorAnswer;
    const acao = r.headers['access-control-allow-origin'];
    return [r.status === 401 && acao === PAGE_ORIGIN, `GET /api/v1/me ${r.status || r.error}; allow-origin ${acao || 'absent'}`];
  });
  check('H4', 'http: preflight from the other origin not allowed', () => {
    const r = rawChecks.foreignPreflight;
    const acao = r.headers['access-control-allow-origin'];
    return [!acao || acao !== FOREIGN_ORIGIN, `OPTIONS ${r.status || r.error}; allow-origin ${acao || 'absent'}`];
  });
}

// --- the run ----------------------------------------------------------------------

async function runPage(context, origin, mode, consoleLines) {
  const page = await context.newPage();
  page.on('console', (m) => consoleLines.push(`[${mode}] ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[${mode}] pageerror: ${e.message}`));
  const url = `${origin}/?mode=${mode}&api=${encodeURIComponent(API)}`;
  say(`loading ${url}`);
  await page.goto(url, { waitUntil: 'load', timeout: 60000 });
  await page.waitForFunction(() => window.__browserCheck && window.__browserCheck.done, null, { timeout: TIMEOUT, polling: 250 });
  const state = await page.evaluate(() => window.__browserCheck);
  await page.close();
  if (state.fatal) throw new Error(`the page's script broke (${mode}): ${state.fatal}`);
  return state;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const servers = [await staticServer(PAGE_PORT), await staticServer(FOREIGN_PORT)];
  const profile = path.join(OUT, 'chromium-profile');
  rmSync(profile, { recursive: true, force: true });
  let context;
  const consoleLines = [];
  try {
    say(`starting ${CHROMIUM} (headless, fresh profile ${profile})`);
    // launchPersistentContext is how Playwright takes a --user-data-dir of our own.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      timeout: 60000,
    });
    say(`browser ${context.browser() ? context.browser().version() : '(persistent context)'} up`);
    const main = await runPage(context, PAGE_ORIGIN, 'main', consoleLines);
    const foreign = await runPage(context, FOREIGN_ORIGIN, 'foreign', consoleLines);
    say('pages done; raw HTTP checks');
    const rawChecks = {
      preflight: await raw('OPTIONS', '/api/v1/periods/00000000-0000-0000-0000-000000000000/reports/TTTT', {
        Origin: PAGE_ORIGIN,
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': ALLOWED_REQUEST.join(','),
      }),
      perHeader: {},
      exposed: await raw('GET', '/healthz', { Origin: PAGE_ORIGIN }),
      errorAnswer: await raw('GET', '/api/v1/me', { Origin: PAGE_ORIGIN, Accept: 'application/json' }),
      foreignPreflight: await raw('OPTIONS', '/api/v1/auth/login', {
        Origin: FOREIGN_ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      }),
    };
    for (const h of ALLOWED_REQUEST) {
      rawChecks.perHeader[h] = await raw('OPTIONS', '/api/v1/auth/login', {
        Origin: PAGE_ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': h,
      });
    }
    // The main page ran before the foreign one, so one pass in that order.
    attachReasons([main, foreign], consoleLines);
    writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ main, foreign, rawChecks }, null, 2));
    writeFileSync(path.join(OUT, 'console.log'), consoleLines.join('\n') + '\n');
    evaluate(main, foreign, rawChecks);
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    for (const s of servers) s.close();
  }

  const w1 = Math.max(...results.map((r) => r.id.length), 2);
  const w2 = Math.max(...results.map((r) => r.name.length), 5);
  const line = (a, b, c, d) => `${a.padEnd(w1)}  ${b.padEnd(w2)}  ${c.padEnd(4)}  ${d}`;
  console.log(line('#', 'check', 'res', 'what the page saw'));
  console.log(line('-'.repeat(w1), '-'.repeat(w2), '----', '-'.repeat(17)));
  for (const r of results) console.log(line(r.id, r.name, r.pass ? 'PASS' : 'FAIL', r.detail));
  const failed = results.filter((r) => !r.pass).length;
  console.log(`\n${results.length - failed} passed, ${failed} failed`);
  say(`finished; page observations in ${path.join(OUT, 'results.json')}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`browser-check: ${e.stack || e}`);
    process.exit(2);
  },
);
