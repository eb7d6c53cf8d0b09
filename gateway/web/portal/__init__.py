"""The developer portal: self-service sign-up, apps, a quickstart, usage and webhooks.

Server-rendered pages in production's control plane only (`/sandbox/portal/...` is not found): the
registry lives in the production database, and so do the apps a developer creates, sandbox or production.
Developers sign in with gateway.auth.developers (own cookie, key and CSRF token). Every form post
passes the same-origin check and a CSRF token: the session's, or a double-submit cookie on the
sign-in and sign-up forms that run before there is a session.

Rules (pinned by tests/gateway/web/portal/test_portal.py):
- Apps: at most `partners.service.MAX_APPS` per developer (both environments), named 2 to 100
  characters, at least one scope: the developer's own (partners.models.ALLOWED_SCOPES) and the
  customer-delegated ones (DELEGATED_SCOPES) grouped by consent tier. Any delegated scope needs a
  redirect URI (one per line; https, or loopback http on a sandbox app). Production is offered once
  the partner's stage opens it (STAGE_ENVIRONMENTS: pilot or production, after review); a production
  app never holds `sandbox:testing`. The registry decides all of it and names the refused field.
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
