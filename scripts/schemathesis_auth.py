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
