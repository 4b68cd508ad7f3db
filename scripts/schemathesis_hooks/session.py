"""The run's own calls to the worker: signing in (with the live password and, once enrolled, the
TOTP code), and calls as a named user that sign in again when the pass made the token stale.
Each sign-in comes from its own address (cf-connecting-ip), as distinct clients would, so the
per-address login throttle in front of the worker does not take the run for an attack.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.request

SEEDED = json.loads(os.environ.get("ST_SEEDED") or "{}")
# Where an operation uses its object up (revoke, delete, activate, act on a document), the seed
# offers this placeholder and `before_call` puts a fresh object of the right kind in its place, so
# every phase has something left to work on. Unknown ids stay tested by the coverage phase
# (malformed ones) and by the native tests (well-formed ones of other companies).
FRESH = "fresh"
# Strong under any policy the run may set (every character class, 24 characters or more).
STRONG_PASSWORDS = ["Quiet copper lanterns #42", "Seven silver foxes wander 9!", "Harbour, tulip & granite 31"]

# The pass user's password as it is now: `/api/me/password` may change it mid-run (after_call
# follows).
_live_password = {}


def current_password(login, initial):
    return _live_password.get(login, initial)


def totp_now(secret_base32, at=None):
    """RFC 6238 with the product's parameters (SHA-1, 30 s, 6 digits)."""
    key = base64.b32decode(secret_base32.upper() + "=" * (-len(secret_base32) % 8))
    counter = int((at or time.time()) // 30).to_bytes(8, "big")
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def sign_in(login, password):
    """A fresh session for `login`: its token pair. From its own address (cf-connecting-ip), as
    distinct clients would, so the per-address login throttle does not take the run for an attack.
    A user the enrolment pass enrolled is asked for its code (mfa_required) and sends it."""
    body = {"login": login, "password": current_password(login, password), "refresh_transport": "body"}
    try:
        return _post_login(body)
    except urllib.error.HTTPError as err:
        secret = os.environ.get("ST_PENDING_TOTP")
        if err.code != 401 or not secret or b"mfa_required" not in err.read():
            raise
        return _post_login({**body, "totp": totp_now(secret)})


def _post_login(body):
    return post_json("/api/auth/login", body)


def random_address():
    """A client address (cf-connecting-ip) of its own, as a distinct client's would be."""
    return "10." + ".".join(str(1 + secrets.randbelow(250)) for _ in range(3))


def _request(method, path, body, headers):
    request = urllib.request.Request(
        os.environ["ST_BASE"] + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def post_json(path, body):
    """A public POST, from an address of its own."""
    return _request("POST", path, body, {"cf-connecting-ip": random_address()})


def api(method, path, token, body=None):
    return _request(method, path, body, {"authorization": f"Bearer {token}"})


_tokens = {}


def call_as(who, method, path, body=None):
    """A call as `who` ("pass": the pass's own user; "admin"), signing in again when its token went
    stale (a policy change of the pass bumps it); a refusal after that is raised with its reason."""
    creds = {"pass": (os.environ["ST_LOGIN"], os.environ["ST_PASSWORD"])}
    creds.update({k: (v["login"], v["password"]) for k, v in SEEDED.get("accounts", {}).items()})
    for attempt in range(3):
        if who not in _tokens or attempt:
            _tokens[who] = sign_in(*creds[who])["access_token"]
        try:
            return api(method, path, _tokens[who], body)
        except urllib.error.HTTPError as err:
            reason = err.read()[:300]
            if err.code != 401 or attempt == 2:
                raise RuntimeError(f"seeding {method} {path} as {who}: {err.code} {reason!r}") from err


def remember_password_change(case, response):
    """`/api/me/password` changed the pass user's password: later sign-ins use the new one."""
    if case.operation.path == "/api/me/password" and 200 <= response.status_code < 300 and isinstance(case.body, dict):
        _live_password[os.environ["ST_LOGIN"]] = case.body["new_password"]
