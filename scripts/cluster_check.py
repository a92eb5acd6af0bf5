"""Checks two gereport processes behind one proxy (run by `scripts/cluster check`).

Each check talks to the proxy or to one process directly and expects the answer a
single process would give: the state that matters (login failures, idempotency keys,
sessions, compiled parts' fingerprints, the webhook outbox) lives in PostgreSQL, so
it does not matter which process answers. The last check kills one process with
SIGKILL while reporters keep saving through the proxy, then reads every report back:
each save that was answered 2xx must be there. Prints a line per check; exits 1 when
one fails.
"""

import argparse
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

FAILURES = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILURES.append(name)


def call(base, method, path, token=None, body=None, headers=None, timeout=20):
    """(status, headers, parsed body or None); network failures are status 0."""
    h = {"accept": "application/json"}
    if token:
        h["authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    h.update(headers or {})
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            status, hdrs, raw = res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, {}, None
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    return status, hdrs, payload


def login(base, user, password):
    status, _, body = call(base, "POST", "/api/v1/auth/login", body={"username": user, "password": password})
    if status != 200:
        raise SystemExit(f"login of {user} failed: {status} {body}")
    return body["access_token"]


def throttling(proxy, password):
    # Five failures for one username from one address, then 429 — whichever process
    # counted them (the proxy alternates between the two).
    statuses = [
        call(proxy, "POST", "/api/v1/auth/login", body={"username": "tvhn", "password": "wrong-password-1"})[0]
        for _ in range(6)
    ]
    check("login throttling counts across processes", statuses == [401] * 5 + [429], f"{statuses}")
    # A failure from elsewhere does not lock the user out here (the address comes from
    # X-Forwarded-For, which the processes trust from the proxy only).
    status = call(proxy, "POST", "/api/v1/auth/login", body={"username": "tvhn", "password": password},
                  headers={"x-forwarded-for": "192.0.2.77"})[0]
    check("another address still logs in", status == 200, f"{status}")


def idempotency(a, b, token, period):
    key = str(uuid.uuid4())
    path = f"/api/v1/periods/{period}/reports/XDNS/validate"
    first = call(a, "POST", path, token, headers={"idempotency-key": key})
    again = call(b, "POST", path, token, headers={"idempotency-key": key})
    check(
        "an idempotent retry to the other process is replayed",
        first[0] == 200 and again[0] == 200 and again[1].get("idempotent-replayed") == "true",
        f"{first[0]} then {again[0]} replayed={again[1].get('idempotent-replayed')}",
    )


def etags(a, b, token, period):
    path = f"/api/v1/periods/{period}/compilation"
    ta = call(a, "GET", path, token)[1].get("etag")
    tb = call(b, "GET", path, token)[1].get("etag")
    check("both processes give the compilation the same ETag", ta is not None and ta == tb, f"{ta} / {tb}")
    # A change made through one process is seen by the other at once.
    status, hdrs, report = call(a, "GET", f"/api/v1/periods/{period}/reports/XDNS", token)
    if status == 200 and report["status"] in ("draft", "returned"):
        data = report["data"]
        data["values"]["narrative_difficulties"] = f"Cập nhật {uuid.uuid4().hex[:8]}"
        call(a, "PUT", f"/api/v1/periods/{period}/reports/XDNS", token, data, {"if-match": hdrs["etag"]})
    else:
        # Nothing editable: a reopened accepted report changes the data just as well.
        status, hdrs, accepted = call(a, "GET", f"/api/v1/periods/{period}/reports/KHTC", token)
        call(a, "POST", f"/api/v1/periods/{period}/reports/KHTC/reopen", token,
             {"reason": "Kiểm tra cụm"}, {"if-match": hdrs.get("etag", "*")})
    status, _, _ = call(b, "GET", path, token, headers={"if-none-match": ta})
    check("after a change through one process, the other's ETag moves on", status == 200, f"{status}")


def sessions(proxy, a, b, password):
    token = login(proxy, "director", password)
    call(a, "POST", "/api/v1/auth/logout", token, {})
    deadline = time.time() + 5
    status = 200
    while time.time() < deadline and status == 200:
        status = call(b, "GET", "/api/v1/me", token)[0]
        time.sleep(0.2)
    check("a logout through one process ends the session in the other", status == 401, f"{status}")


class Receiver(http.server.BaseHTTPRequestHandler):
    received = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with Receiver.lock:
            Receiver.received.append((self.headers.get("webhook-id"), json.loads(body or b"{}")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhooks(proxy, coordinator, admin, period):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    status, _, _ = call(proxy, "POST", "/api/v1/webhooks", admin,
                        {"url": url, "event_types": ["report.returned"], "description": "cluster check"})
    if status != 201:
        check("a webhook endpoint is created", False, f"{status}")
        return
    # The demo's QLDSVH has submitted its annual report; the office returns it.
    path = f"/api/v1/periods/{period}/reports/QLDSVH"
    status, hdrs, _ = call(proxy, "GET", path, coordinator)
    returned = call(proxy, "POST", f"{path}/return", coordinator, {"reason": "Bổ sung số liệu"},
                    {"if-match": hdrs.get("etag", "*"), "idempotency-key": str(uuid.uuid4())})[0]
    deadline = time.time() + 15
    while time.time() < deadline and not Receiver.received:
        time.sleep(0.2)
    time.sleep(2)  # room for a second delivery, were one to come
    ids = [i for i, _ in Receiver.received]
    check(
        "two workers deliver a webhook once",
        returned == 200 and len(ids) == 1,
        f"return {returned}; deliveries {ids}",
    )
    server.shutdown()


def kill_under_load(proxy, victim_pid, token_of, period, units, seconds=8.0):
    acked = {u: None for u in units}
    attempted = {u: 0 for u in units}
    stop = time.time() + seconds

    def writer(unit):
        token = token_of[unit]
        path = f"/api/v1/periods/{period}/reports/{unit}"
        n = 0
        while time.time() < stop:
            status, hdrs, report = call(proxy, "GET", path, token)
            if status == 404:
                etag, data = None, {"values": {}}
            elif status == 200 and report["status"] in ("draft", "returned"):
                etag, data = hdrs["etag"], report["data"]
            else:
                time.sleep(0.05)
                continue
            n += 1
            attempted[unit] = n
            data["values"]["committee_meetings"] = n
            status, _, _ = call(proxy, "PUT", path, token, data, {"if-match": etag} if etag else {})
            if status in (200, 201):
                acked[unit] = n

    threads = [threading.Thread(target=writer, args=(u,)) for u in units]
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    os.kill(victim_pid, signal.SIGKILL)
    for t in threads:
        t.join()
    lost = []
    for unit in units:
        status, _, report = call(proxy, "GET", f"/api/v1/periods/{period}/reports/{unit}", token_of[unit])
        stored = report["data"]["values"].get("committee_meetings") if status == 200 else None
        # Stored is the last acknowledged save, or a later one whose answer was cut off.
        if acked[unit] is not None and (stored is None or not acked[unit] <= stored <= attempted[unit]):
            lost.append(f"{unit}: acked {acked[unit]}, stored {stored}")
    total = sum(a or 0 for a in acked.values())
    check("a process killed under load loses no acknowledged save", not lost and total > 0,
          f"{total} saves acknowledged over {len(units)} units; {lost or 'none lost'}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--process", nargs=2, action="append", metavar=("URL", "PID"), required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    (a, _), (b, pid_b) = args.process
    proxy, password = args.proxy, args.password

    coordinator = login(proxy, "coordinator", password)
    admin = login(proxy, "admin", password)
    status, _, periods = call(proxy, "GET", "/api/v1/periods?code=2024", coordinator)
    if status != 200 or not periods["items"]:
        raise SystemExit(f"no period 2024: {status} {periods}")
    period = periods["items"][0]["id"]

    throttling(proxy, password)
    idempotency(a, b, login(proxy, "xdns", password), period)
    etags(a, b, coordinator, period)
    sessions(proxy, a, b, password)
    webhooks(proxy, coordinator, admin, period)
    # Units that have not started their annual report in the demo: the first save
    # creates it, the next ones update it.
    units = ["BQLDTL", "CLBBD", "DCHN", "NHCHEO", "NHCL", "NHMR"]
    tokens = {u: login(proxy, u.lower(), password) for u in units}
    kill_under_load(proxy, int(pid_b), tokens, period, units)

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: {', '.join(FAILURES)}", file=sys.stderr)
        sys.exit(1)
    print("every cluster check passed")


if __name__ == "__main__":
    main()
