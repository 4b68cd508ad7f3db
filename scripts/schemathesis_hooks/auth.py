"""Auth providers: the portal sign-in, which signs in with the pass's login (ST_LOGIN,
ST_PASSWORD at ST_BASE) instead of a fixed token, so the run stays signed in. When a call answers
401 (a policy change made the token stale, or the session was ended), schemathesis 4.32 invalidates
this provider's cache, signs in again and replays the call once; an operation that still answers
401 after a fresh sign-in is one whose 401 is not about the token, and is not retried again.
The webhooks get their own credentials (Telegram's secret header, the widget's signature), and
refresh and logout a refresh token of their own.
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis

from .session import SEEDED, sign_in


@schemathesis.auth(refresh_interval=None).apply_to(path="/webhooks/telegram")
class TelegramSecret:
    """Telegram authenticates its webhook with the secret set at registration, in a header."""

    def get(self, case, context):
        return os.environ["ST_TELEGRAM_SECRET"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["X-Telegram-Bot-Api-Secret-Token"] = data


@schemathesis.auth(refresh_interval=None).apply_to(path_regex="^/webhooks/widget/")
class WidgetSignature:
    """The client's server signs each widget event: HMAC-SHA256 of `timestamp.body` with the
    connection's secret. Signed over the bytes `requests` sends for a JSON body."""

    def get(self, case, context):
        return SEEDED.get("widgetSecret") or None

    def set(self, case, data, context):
        try:
            raw = json.dumps(case.body, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError):
            return
        stamp = str(int(time.time()))
        mac = hmac.new(data.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        case.headers = case.headers or {}
        case.headers["X-Extranet-Timestamp"] = stamp
        case.headers["X-Extranet-Signature"] = f"v1={mac}"


@schemathesis.auth(refresh_interval=None).apply_to(path_regex="^/api/auth/(refresh|logout)$")
class FreshRefreshToken:
    """A refresh token works once (reuse ends the session), so each call gets one of its own; so
    does each logout, which ends the session its token names."""

    def get(self, case, context):
        return sign_in(os.environ["ST_LOGIN"], os.environ["ST_PASSWORD"])["refresh_token"]

    def set(self, case, data, context):
        if isinstance(case.body, dict):
            case.body["refresh_token"] = data


@schemathesis.auth(refresh_interval=600)
class PortalSignIn:
    def get(self, case, context):
        return sign_in(os.environ["ST_LOGIN"], os.environ["ST_PASSWORD"])["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
