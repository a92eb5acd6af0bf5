"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Schemathesis only keeps generated header values that `requests` can send: latin-1,
no bare CR or LF. That still lets through control characters such as U+0001, which
HTTP forbids in a field value (RFC 9110 section 5.5: visible characters, obs-text,
space and tab). The server's HTTP/1 parser (actix-http) refuses such a request before
any application code runs, with a bare 400 that no route, and so no OpenAPI
operation, can describe. Those requests test the HTTP parser, not gereport, so they
are not generated.
"""

import schemathesis


def is_field_value(value: object) -> bool:
    """True when `value` is a valid HTTP field value (RFC 9110 section 5.5)."""
    return all(
        ch == "\t" or " " <= ch <= "~" or "\x80" <= ch <= "\xff" for ch in str(value)
    )


@schemathesis.hook
def filter_headers(context, headers):
    return headers is None or all(is_field_value(v) for v in headers.values())
