"""Where each call ended, for the summary `scripts/schemathesis.sh` prints per operation."""

import json
import os

import schemathesis

# One JSON line per call in ST_STATS, appended under a lock: a pass runs two workers.
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
    phase = getattr(getattr(getattr(meta, "phase", None), "name", None), "value", None)
    reason = None
    if response.status_code >= 400:
        try:
            error = json.loads(response.content or b"{}").get("error", {})
            reason = f"{error.get('code')} {error.get('field') or '-'}: {error.get('message', '')}"[:160]
        except (ValueError, AttributeError):
            reason = "unreadable answer"
    line = json.dumps({"operation": case.operation.label, "mode": mode, "phase": phase, "status": response.status_code, "outcome": _outcome(response.status_code, response.content), "reason": reason})
    with _stats_lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
