"""The developer portal: self-service sign-up, sandbox apps, a quickstart, usage and webhooks.

Server-rendered pages in production's control plane only (`/sandbox/portal/...` is not found): the
registry lives in the production database, and the apps a developer creates are sandbox apps.
Developers sign in with gateway.auth.developers (own cookie, key and CSRF token). Every form post
passes the same-origin check and a CSRF token: the session's, or a double-submit cookie on the
sign-in and sign-up forms that run before there is a session.

Rules (pinned by tests/gateway/web/portal/test_portal.py):
- Apps: sandbox only, at most `partners.service.MAX_APPS` per developer, named 2 to 100 characters,
  scopes from the developer partner's own scopes (partners.models.ALLOWED_SCOPES), at least one.
  Production apps are never offered here: the partner lifecycle decides (the page shows the stage
  and the way to review).
- Keys: the form takes one public JWK or a JWK Set, read by `partners.service.parse_jwks` (a key
  without `kid` gets its RFC 7638 thumbprint as kid; the registry then validates the set: public
  members only, unique kids, EC P-256, Ed25519 or RSA >= 2048). With "generate in my browser"
  (static/portal.js) the browser makes an ECDSA P-256 pair with WebCrypto, posts only the public
  JWK, and offers the private JWK once as a download; the server never sees it.
- A developer sees only their own partner's apps: anyone else's client id is "not found" (404),
  exactly like an unknown one.
- Usage: the chart shows the last `USAGE_DAYS` days (7 to 90 with ?days=) up to the clock's today
  (UTC). The meter writes this worker's buffer before it reads, so a developer's own recent calls
  show at once with one worker; with several workers the other workers' counts follow within
  their flush interval.
"""
