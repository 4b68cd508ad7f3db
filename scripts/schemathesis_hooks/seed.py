"""Real objects where the generator would invent ids: the seed's (`ST_SEEDED`, made by
`scripts/schemathesis.sh`) written into the document's path parameters and id properties as it
loads, and fresh ones made on demand for the operations that use theirs up.
"""

import os
import uuid

import schemathesis

from .session import FRESH, SEEDED, STRONG_PASSWORDS, api, call_as, current_password, post_json, random_address, remember_password_change, sign_in, totp_now


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """Real values where the run cannot make its own: each path parameter, id-carrying body
    property and `company` query the seed knows takes one of the seeded values, or FRESH where the
    operation uses its object up (the document says `format: uuid`; a random uuid names nothing, so
    nearly every case would stop at 404). The invitation preview takes a pending invitation's token
    and the activation a fresh one; the login example is a real client's credentials."""
    paths = SEEDED.get("paths", {})
    properties = SEEDED.get("properties", {})
    for path, item in raw_schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                if param.get("in") == "query" and param["name"] in SEEDED.get("query", {}):
                    param["schema"] = {"type": "string", "enum": SEEDED["query"][param["name"]]}
                if param.get("in") != "path":
                    continue
                marker = "{" + param["name"] + "}"
                key = path[: path.index(marker) + len(marker)] if marker in path else None
                values = paths.get(f"{method.upper()} {path}") or paths.get(key)
                if values:
                    param["schema"] = {"type": "string", "enum": values}
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            _seed_properties(body.get("schema", {}), properties)
            if path.startswith("/api/invitations/"):
                token = body["schema"].get("properties", {}).get("token")
                if token is not None and SEEDED.get("tokens"):
                    tokens = [FRESH] if path.endswith("/activate") else SEEDED["tokens"]
                    body["schema"]["properties"]["token"] = {"type": "string", "enum": tokens}
            # Strength is judged against the live policy and the blocklist, which no schema can
            # say: new passwords come from a few strong ones (the document keeps the lengths).
            for name in ("password", "new_password"):
                if path != "/api/auth/login" and body["schema"].get("properties", {}).get(name, {}).get("type") == "string":
                    body["schema"]["properties"][name] = {"type": "string", "enum": STRONG_PASSWORDS}
            # The real bootstrap secret: after the first admin, it answers 409 (already done),
            # where any other secret stops at 403.
            if path == "/api/admin/bootstrap" and SEEDED.get("bootstrap"):
                body["schema"]["properties"]["token"] = {"type": "string", "enum": [SEEDED["bootstrap"]]}
            if path == "/api/admin/security" and method == "put":
                _keep_the_run_able_to_sign_in(body["schema"])
            if path == "/api/auth/login" and SEEDED.get("login"):
                body["example"] = {**SEEDED["login"], "refresh_transport": "body"}


def _keep_the_run_able_to_sign_in(schema):
    """Any security settings in range are valid, but two would stop the run itself: a second
    factor required (the passes sign in with a password) and a minimum length above the strong
    passwords the run sets. The settings stay otherwise free."""
    props = schema.get("properties", {})
    for flag in props.get("mfa", {}).get("properties", {}):
        props["mfa"]["properties"][flag] = {"type": "boolean", "const": False}
    length = props.get("password", {}).get("properties", {}).get("min_length")
    if isinstance(length, dict):
        length["maximum"] = min(length.get("maximum", 20), 20)


def _seed_properties(schema, properties):
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        if name in properties and isinstance(sub, dict):
            values = {"type": "string", "enum": properties[name]}
            # An array of ids (or an array-or-null): its items; a single id: itself.
            for branch in [sub, *sub.get("anyOf", []), *sub.get("oneOf", [])]:
                kind = branch.get("type") if isinstance(branch, dict) else None
                if kind == "array" or (isinstance(kind, list) and "array" in kind):
                    branch["items"] = values
            if sub.get("format") == "uuid":
                schema["properties"][name] = values
        else:
            _seed_properties(sub, properties)


@schemathesis.hook
def before_call(context, case, kwargs):
    """Just before a call: FRESH replaced by a new object of the right kind; the step-ups given the
    live password; the enrolment's code computed. Sign-ins and invitations come from many
    addresses, as many clients would send them: from one address the per-address throttle answers
    429 after a few, and the logic behind it goes untested (the throttle has its own tests)."""
    if case.operation.path in ("/api/auth/login", "/api/invitations/preview", "/api/invitations/activate"):
        case.headers = case.headers or {}
        case.headers["cf-connecting-ip"] = random_address()
    # A generated link_id names no link of the user (refused like a wrong password; the native
    # tests cover it): without it, sign-ins reach the code that picks the link.
    if case.operation.path == "/api/auth/login" and isinstance(case.body, dict):
        case.body.pop("link_id", None)
    label = f"{case.operation.method.upper()} {case.operation.path}"
    params = case.path_parameters or {}
    if params.get("id") == FRESH and label in MAKERS:
        params["id"] = MAKERS[label](case)
    if isinstance(case.body, dict) and case.body.get("token") == FRESH:
        case.body["token"] = _fresh_invitation_token()
    # A wrong current password counts toward the lockout, and a locked account could not sign in
    # again: the step-ups always get the right one (their refusals have native tests).
    if case.operation.path in ("/api/me/password", "/api/me/mfa/totp") and isinstance(case.body, dict):
        if isinstance(case.body.get("current_password"), str):
            case.body["current_password"] = current_password(os.environ["ST_LOGIN"], os.environ["ST_PASSWORD"])
        # A new password must differ from the current one (refused by state otherwise).
        current = case.body.get("current_password")
        if isinstance(current, str) and case.body.get("new_password") == current:
            case.body["new_password"] = next(p for p in STRONG_PASSWORDS if p != current)
    # The enrolment pass confirms with the code of the secret its seed started.
    if case.operation.path == "/api/me/mfa/totp/confirm" and isinstance(case.body, dict) and os.environ.get("ST_PENDING_TOTP"):
        if isinstance(case.body.get("code"), str):
            case.body["code"] = totp_now(os.environ["ST_PENDING_TOTP"])


@schemathesis.hook
def after_call(context, case, response):
    remember_password_change(case, response)


def _fresh_widget(case):
    return call_as("pass", "POST", "/api/channels/widget", {"company_id": SEEDED["company"]})["id"]


def _fresh_client_widget(case):
    """A widget of a client made for the purpose: any client the run already knows may have been
    blocked or unlinked by the pass by now."""
    # The stateful phase may have walked to the company's policy: the seed's again first.
    call_as("admin", "PUT", f"/api/admin/companies/{SEEDED['company']}/policy", SEEDED["policy"])
    session = post_json("/api/invitations/activate", {"token": _fresh_invitation_token(), "password": STRONG_PASSWORDS[0], "refresh_transport": "body"})
    return api("POST", "/api/channels/widget", session["access_token"], {"company_id": SEEDED["company"]})["id"]


def _fresh_document(case):
    action = case.body.get("action") if isinstance(case.body, dict) else None
    required = "approve" if action in ("approved", "rejected") else "review"
    doc = call_as("admin", "POST", "/api/admin/documents", {"company_id": SEEDED["company"], "title": "Terms", "content_type": "text/plain", "content_base64": "dGVybXM="})
    call_as("admin", "POST", f"/api/admin/documents/{doc['id']}/publish", {"required_action": required})
    return doc["id"]


def _fresh_invitation_id(case):
    return call_as("admin", "POST", f"/api/admin/links/{SEEDED['invitee_link']}/invitations", {})["id"]


def _fresh_invitation_token():
    contact = str(uuid.uuid4())
    login = f"fresh-{contact[:8]}@example.test"
    call_as("admin", "PUT", f"/api/admin/contacts/{contact}", {"first_name": "Fresh", "last_name": "Client", "email": login, "company_ids": [SEEDED["company"]]})
    link = call_as("admin", "POST", "/api/admin/links", {"user": {"login": login, "email": login, "first_name": "Fresh", "last_name": "Client"}, "contact_id": contact, "company_ids": [SEEDED["company"]], "default_company_id": SEEDED["company"]})
    return call_as("admin", "POST", f"/api/admin/links/{link['id']}/invitations", {})["activation_url"].split("#")[1]


def _fresh_session(case):
    """Another session of the pass's own user: sign in once more, and name that session."""
    token = sign_in(os.environ["ST_LOGIN"], os.environ["ST_PASSWORD"])["access_token"]
    return next(s["id"] for s in api("GET", "/api/me/sessions", token)["items"] if s.get("current"))


MAKERS = {
    "DELETE /api/channels/{id}": _fresh_widget,
    "POST /api/channels/{id}/rotate": _fresh_widget,
    "POST /api/admin/channel-links/{id}/revoke": _fresh_client_widget,
    "POST /api/documents/{id}/actions": _fresh_document,
    "POST /api/admin/invitations/{id}/revoke": _fresh_invitation_id,
    "DELETE /api/me/sessions/{id}": _fresh_session,
}
