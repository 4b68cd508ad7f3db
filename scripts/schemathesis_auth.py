"""Schemathesis auth for `scripts/schemathesis.sh`: signs in with the pass's login (ST_LOGIN,
ST_PASSWORD at ST_BASE) instead of a fixed token, so the run stays signed in. When a call answers
401 (a policy change made the token stale, or the session was ended), schemathesis 4.32 invalidates
this provider's cache, signs in again and replays the call once; an operation that still answers
401 after a fresh sign-in is one whose 401 is not about the token, and is not retried again.

Each sign-in comes from its own address (cf-connecting-ip), as distinct clients would, so the
per-address login throttle in front of the worker does not take the run for an attack.
"""

import json
import os
import random
import urllib.request

import schemathesis


@schemathesis.auth(refresh_interval=600)
class PortalSignIn:
    def get(self, case, context):
        body = json.dumps({"login": os.environ["ST_LOGIN"], "password": os.environ["ST_PASSWORD"], "refresh_transport": "body"}).encode()
        address = f"10.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"
        request = urllib.request.Request(
            os.environ["ST_BASE"] + "/api/auth/login",
            data=body,
            headers={"content-type": "application/json", "cf-connecting-ip": address},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


# Where each call ended, for the summary `scripts/schemathesis.sh` prints per operation: one JSON
# line per call in ST_STATS (appended under a lock: the pass runs two workers).
import threading

_stats_lock = threading.Lock()


def _outcome(status, body):
    if 200 <= status < 300:
        return "ok"
    if status >= 500:
        return "server_error"
    code = None
    try:
        code = json.loads(body or b"{}").get("error", {}).get("code")
    except (ValueError, AttributeError):
        pass
    # Refused while reading the input (a named field, an unreadable body); by the guard (no or
    # the wrong credential for the route); not found (a generated id, or one malformed: the API
    # answers 404 for both); or by the state of things (conflict, gone, denied by policy...).
    if status in (413, 415) or code in ("invalid_input", "weak_password"):
        return "parse"
    if status == 401 or (status == 403 and code != "policy_denied"):
        return "guard"
    if status in (404, 405):
        return "not_found"
    return "state"


@schemathesis.hook
def after_call(context, case, response):
    path = os.environ.get("ST_STATS")
    if not path:
        return
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(getattr(meta, "generation", None), "mode", None), "value", None)
    line = json.dumps({"operation": case.operation.label, "mode": mode, "outcome": _outcome(response.status_code, response.content)})
    with _stats_lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
