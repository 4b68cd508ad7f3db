"""Where each call ended, for the summary `scripts/schemathesis.sh` prints per operation."""

import json
import os
import threading

import schemathesis

# One JSON line per call in ST_STATS, appended under a lock: a pass runs two workers.
_stats_lock = threading.Lock()


def _error_of(body):
    """The `error` object of an answer, or None when it has none or is not JSON."""
    try:
        error = json.loads(body or b"{}").get("error")
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, dict) else None


def _outcome(status, code):
    if 200 <= status < 300:
        return "ok"
    if status >= 500:
        return "server_error"
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
    error = _error_of(response.content) if response.status_code >= 400 else None
    reason = None
    if response.status_code >= 400:
        reason = f"{error.get('code')} {error.get('field') or '-'}: {error.get('message', '')}"[:160] if error else "unreadable answer"
    outcome = _outcome(response.status_code, error.get("code") if error else None)
    line = json.dumps({"operation": case.operation.label, "mode": mode, "phase": phase, "status": response.status_code, "outcome": outcome, "reason": reason})
    with _stats_lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
