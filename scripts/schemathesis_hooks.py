"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Two rules of the HTTP contract that generated data would otherwise break, so that a
finding always means a fault of gereport:

* Header values. Schemathesis keeps only generated header values that its HTTP
  client can send: latin-1, no bare CR or LF. That still lets through control
  characters such as U+0001, which HTTP forbids in a field value (RFC 9110 section
  5.5: visible characters, obs-text, space and tab). The server's HTTP/1 parser
  (actix-http) refuses such a request before any application code runs, with a bare
  400 that no route, and so no OpenAPI operation, can describe.

* Idempotency keys. The document asks a client for a *fresh* `Idempotency-Key` per
  request, and the same key with another request is, by design, 422
  `idempotency_key_reused`. Generated cases reuse the few key values the generator
  draws, so every request that carries a valid key gets a unique one before it is
  sent; an invalid key (a negative case) is sent as it was drawn.
  (tests/api/idempotency.rs covers replays and reuse.)

* Workbooks. `PUT …/template.xlsx` takes the XLSX media type, for which schemathesis
  has no serializer of its own; generated bodies go on the wire as their bytes, as
  schemathesis sends `application/octet-stream` (the service answers what is not a
  workbook with a 422 `invalid_workbook`).
"""

import re
import uuid

import schemathesis


def is_field_value(value: object) -> bool:
    """True when `value` is a valid HTTP field value (RFC 9110 section 5.5)."""
    return all(
        ch == "\t" or " " <= ch <= "~" or "\x80" <= ch <= "\xff" for ch in str(value)
    )


@schemathesis.hook
def filter_headers(context, headers):
    return headers is None or all(is_field_value(v) for v in headers.values())


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@schemathesis.serializer(XLSX)
def workbook_bytes(ctx, value):
    data = getattr(value, "data", value)  # a generated `format: binary` value
    if isinstance(data, bytes):
        return data
    return str(data).encode("utf-8", errors="ignore")


# The document's schema of the header: 1 to 255 visible ASCII characters.
VALID_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == "idempotency-key" and VALID_KEY.fullmatch(str(value)):
            headers[name] = f"st-{uuid.uuid4()}"
