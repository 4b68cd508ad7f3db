"""Schemathesis hooks for `scripts/schemathesis.sh` (SCHEMATHESIS_HOOKS=schemathesis_hooks):
`session` talks to the worker as the run's users, `auth` keeps each pass signed in and signs the
webhooks, `seed` puts the seeded and fresh objects where the generator would invent ids, and
`stats` writes where each call ended. Importing them registers their hooks.
"""

from . import auth, seed, stats  # noqa: F401  (imported for their hooks)
