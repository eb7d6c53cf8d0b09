"""`gateway serve | migrate | seed | openapi | keys rotate | audit verify | partners ... | demo token`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
from openplatform.errors import OpenPlatformError

from gateway.auth.keys import KeyRing
from gateway.auth.staff import officers_file, seed_demo_officers
from gateway.demo import delegated_token, demo_client, demo_dpop_key, seed_customers, seed_demo
from gateway.domain.audit.chain import verify
from gateway.domain.clock import SystemClock
from gateway.domain.environment import Environment
from gateway.domain.errors import DomainError
from gateway.settings import Settings, SettingsError
from gateway.storage.audit import SqlAuditLog
from gateway.storage.database import Database
from gateway.storage.migrate import prepare
from gateway.storage.partners import SqlRegistryStore
from gateway.storage.points import seed_demo_valuations
from partners.models import PartnerType
from partners.service import Registry
from sandbox.isolation import check_isolation

if TYPE_CHECKING:
    import uvicorn

WORKER_HEALTHCHECK_SECONDS: Final = 60


def _environments(choice: str) -> list[Environment]:
    return list(Environment) if choice == "all" else [Environment(choice)]


def _registry(settings: Settings) -> Registry:
    return Registry(SqlRegistryStore(Database(settings.database(Environment.PRODUCTION))), SystemClock())


def _key_ring(settings: Settings, environment: Environment) -> KeyRing:
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    return KeyRing(settings.keys_dir / environment.value, SystemClock(), token_ttl=ttl)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    prepare(settings)
    for environment in Environment:
        _key_ring(settings, environment).ensure()
        print(
            f"{environment.value}: schema up to date ({settings.database(environment).describe()}); "
            "signing keys ready"
        )
    return 0


def cmd_seed(settings: Settings, _args: argparse.Namespace) -> int:
    credentials_file = settings.demo_dir / "credentials.json"
    registry = _registry(settings)
    credentials = seed_demo(registry, credentials_file)
    for item in credentials:
        print(f"{item['environment']:<10} {item['client_id']:<32} {item['partner']} ({item['type']})")
    print(f"credentials (private keys, mode 0600): {credentials_file}")
    customers_file = settings.demo_dir / "customers.json"
    databases = {environment: Database(settings.database(environment)) for environment in Environment}
    try:
        logins = seed_customers(databases, customers_file, SystemClock())
        # Each lifestyle platform prices its points (100 = 1.00 CNY) so the tour can convert them.
        shops = {i["partner"] for i in credentials if i["type"] == PartnerType.LIFESTYLE_PLATFORM.value}
        shop_ids = sorted(p.id for name in shops if (p := registry.find_partner_by_name(name)))
        for database in databases.values():
            for valuation in seed_demo_valuations(database, shop_ids, SystemClock()):
                print(f"valuation  {valuation.id} {valuation.points} points = {valuation.amount} CNY")
    finally:
        for database in databases.values():
            database.dispose()
    for login in logins:
        print(f"customer   {login['username']:<16} resident in {login['residency']}")
    print(f"production customer passwords (mode 0600): {customers_file}")
    print("sandbox personas and their published passwords: docs/sandbox/personas.md")
    staff_file = settings.demo_dir / "staff.json"
    for username, roles in seed_demo_officers(officers_file(settings.var_dir), staff_file):
        print(f"officer    {username:<18} {' '.join(roles)}")
    print(f"officers (Argon2id hashes, mode 0600): {officers_file(settings.var_dir)}")
    print(f"officer passwords (mode 0600), sign in at /supervisor/login: {staff_file}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    workers = args.workers or settings.workers
    host = args.host or settings.host
    port = args.port or settings.port
    # Workers rebuild their settings from the environment (create_app_from_env): hand the command
    # line on, so that the issuer is derived from the address actually served, not the default port.
    os.environ.update(GATEWAY_WORKERS=str(workers), GATEWAY_HOST=host, GATEWAY_PORT=str(port))
    try:
        settings = Settings.from_env()  # refuses in-memory limits with several workers
    except SettingsError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"open platform on {settings.base_url} (production) and {settings.base_url}/sandbox; docs at /docs")
    config = uvicorn.Config(
        "gateway.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # A spawned worker answers the supervisor's health check only after importing the app;
        # uvicorn's 5 s default kills and respawns workers forever on a loaded 2-core machine.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
        proxy_headers=False,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else 1
    Multiprocess(config, sockets=[_tcp_listener(config)]).run()
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Deliver webhooks from both environments' outboxes until SIGTERM/SIGINT (or one pass: --once)."""
    import signal
    import threading

    from gateway.adapters.webhook_sender import HttpSender
    from gateway.app import delivery_lane, webhook_service
    from partners.webhooks.delivery import DeliveryWorker

    clock = SystemClock()
    databases = {environment: Database(settings.database(environment)) for environment in Environment}
    sender = HttpSender(timeout_seconds=settings.webhook_timeout_seconds)
    worker = DeliveryWorker(
        [
            delivery_lane(env, webhook_service(settings, env, database, clock), sender)
            for env, database in databases.items()
        ]
    )
    try:
        if args.once:
            print(f"webhooks: {worker.run_once()} attempt(s)")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(f"webhook worker {worker.name} running; SIGTERM or Ctrl-C stops it")
        worker.run(stop, every_seconds=args.interval)
        return 0
    finally:
        sender.close()
        for database in databases.values():
            database.dispose()


def _tcp_listener(config: uvicorn.Config) -> socket.socket:
    """Bind the listening socket labelled `IPPROTO_TCP`, so that the workers set TCP_NODELAY.

    uvicorn binds it with `proto=0` for several workers (uvicorn issue #3149); asyncio then leaves
    Nagle's algorithm on for every accepted connection, and each keep-alive response waits ~40 ms
    for the client's delayed ACK.
    """
    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    listener.set_inheritable(True)
    return listener


def cmd_openapi(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.app import create_app
    from openapi.spec import SPEC_FILE, render

    fixed = settings.with_changes(base_url="https://api.openplatform.example")
    text = render(create_app(fixed).openapi_schema)
    target = Path(args.output) if args.output else SPEC_FILE
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} differs from the app: run `make openapi`", file=sys.stderr)
            return 1
        print(f"{target} matches the app")
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    for environment in _environments(args.environment):
        entry = _key_ring(settings, environment).rotate()
        print(
            f"{environment.value}: new signing key {entry.kid}; "
            "older keys stay published until their tokens expire"
        )
    return 0


def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    for environment in _environments(args.environment):
        for entry in _key_ring(settings, environment).entries():
            state = f"retired {entry.retired_at:%Y-%m-%d %H:%M}" if entry.retired_at else "signing"
            print(
                f"{environment.value:<10} {entry.kid:<24} created {entry.created_at:%Y-%m-%d %H:%M}  {state}"
            )
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    failed = False
    for environment in _environments(args.environment):
        log = SqlAuditLog(Database(settings.database(environment)))
        result = verify(log.records(), log.head())
        if result.ok:
            print(f"{environment.value}: audit chain verifies ({result.records} records)")
        else:
            failed = True
            print(
                f"{environment.value}: AUDIT CHAIN BROKEN at record {result.first_bad_seq}: {result.problem}"
            )
    return 1 if failed else 0


def cmd_partners_list(settings: Settings, _args: argparse.Namespace) -> int:
    registry = _registry(settings)
    for partner in registry.list_partners():
        print(
            f"{partner.id}  {partner.type.value:<18} {partner.region} "
            f"{partner.status.value:<9} {partner.name}"
        )
        for app in registry.list_apps(partner.id):
            print(
                f"    {app.client_id:<32} {app.environment.value:<10} plan={app.plan_id} "
                f"scopes={' '.join(sorted(app.scopes))}"
            )
    return 0


def cmd_partners_create(settings: Settings, args: argparse.Namespace) -> int:
    partner = _registry(settings).create_partner(
        name=args.name, type=PartnerType(args.type), region=args.region
    )
    print(partner.id)
    return 0


def cmd_partners_status(settings: Settings, args: argparse.Namespace) -> int:
    lifecycle = _registry(settings).lifecycle
    change = lifecycle.suspend if args.command == "suspend" else lifecycle.reactivate
    partner = change(args.partner_id, actor=f"cli:{getpass.getuser()}", reason=args.reason)
    print(f"{partner.id} is {partner.status.value}")
    return 0


def cmd_apps_create(settings: Settings, args: argparse.Namespace) -> int:
    jwks = json.loads(Path(args.jwks).read_text())
    app = _registry(settings).create_app(
        partner_id=args.partner_id,
        name=args.name or "",
        environment=Environment(args.environment),
        jwks=jwks,
        scopes=args.scopes.split(),
        plan_id=args.plan,
    )
    print(app.client_id)
    return 0


def _demo_app(settings: Settings, partner: str, environment: Environment) -> dict[str, Any] | None:
    """The first demo app in `environment` whose partner's name contains `partner`."""
    credentials: list[dict[str, Any]] = json.loads((settings.demo_dir / "credentials.json").read_text())
    return next(
        (
            c
            for c in credentials
            if c["environment"] == environment.value and partner.lower() in c["partner"].lower()
        ),
        None,
    )


def cmd_demo_token(settings: Settings, args: argparse.Namespace) -> int:
    """Get an access token for a demo app through the SDK (`private_key_jwt`, client credentials)."""
    environment = Environment(args.environment)
    item = _demo_app(settings, args.partner, environment)
    if item is None:
        print(f"no demo app for {args.partner!r} in {environment.value}", file=sys.stderr)
        return 2
    # Production tokens are DPoP-bound to the demo key; the sandbox's are plain bearer tokens, so
    # that a first call by hand is `curl -H "Authorization: Bearer ..."` (README, step 7).
    use_dpop = environment is Environment.PRODUCTION
    try:
        with demo_client(settings, item, use_dpop=use_dpop) as client:
            if args.assertion_only:
                print(
                    json.dumps({"client_id": client.client_id, "client_assertion": client.assertions.sign()})
                )
                return 0
            scoped = client.with_options(scopes=args.scope.split()) if args.scope else client
            print(scoped.access_token())
    except OpenPlatformError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def cmd_demo_consent(settings: Settings, args: argparse.Namespace) -> int:
    """A demo app asks a demo customer for consent, the customer approves, the app gets tokens."""
    item = _demo_app(settings, args.partner, Environment.PRODUCTION)
    if item is None:
        print(f"no demo app for {args.partner!r} in production", file=sys.stderr)
        return 2
    logins = json.loads((settings.demo_dir / "customers.json").read_text())
    customer = next((c for c in logins if c["username"] == args.customer), None)
    if customer is None:
        print(f"no demo customer {args.customer!r}", file=sys.stderr)
        return 2
    limits = [json.loads(limit) for limit in args.limit]
    try:
        answer = delegated_token(
            settings,
            credential=item,
            customer=customer,
            permissions=args.permissions.split(","),
            limits=limits,
        )
    except (RuntimeError, httpx.HTTPError, OpenPlatformError) as exc:
        print(f"the delegated flow failed: {exc}", file=sys.stderr)
        return 1
    print(answer["access_token"])
    print(f"consent {answer['consent_id']}, scope {answer['scope']}", file=sys.stderr)
    return 0


def cmd_demo_proof(settings: Settings, args: argparse.Namespace) -> int:
    """A fresh DPoP proof by the demo key, for one call made by hand (curl)."""
    print(demo_dpop_key(settings.demo_dir).proof(args.method, args.url, access_token=args.token))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="group", required=True)

    serve = sub.add_parser("serve", help="serve the gateway (uvicorn)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--quiet", action="store_true", help="no access log")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="create or upgrade both environments' databases").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser("seed", help="plans and demo partners; writes var/demo/credentials.json").set_defaults(
        func=cmd_seed
    )
    worker = sub.add_parser("worker", help="deliver webhooks from the outbox (both environments)")
    worker.add_argument("--once", action="store_true", help="one pass, then exit")
    worker.add_argument("--interval", type=float, default=1.0, help="seconds between idle passes")
    worker.set_defaults(func=cmd_worker)
    spec = sub.add_parser("openapi", help="write openapi/v1.json (or --check for drift)")
    spec.add_argument("--output")
    spec.add_argument("--check", action="store_true")
    spec.set_defaults(func=cmd_openapi)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="command", required=True)
    for name, func in (("rotate", cmd_keys_rotate), ("list", cmd_keys_list)):
        command = keys.add_parser(name)
        command.add_argument("--environment", choices=["all", *[e.value for e in Environment]], default="all")
        command.set_defaults(func=func)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="command", required=True)
    check = audit.add_parser("verify", help="verify the hash chain; exit 1 when it is broken")
    check.add_argument("--environment", choices=["all", *[e.value for e in Environment]], default="all")
    check.set_defaults(func=cmd_audit_verify)

    partners = sub.add_parser("partners", help="the partner registry").add_subparsers(
        dest="command", required=True
    )
    partners.add_parser("list").set_defaults(func=cmd_partners_list)
    create = partners.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--type", required=True, choices=[t.value for t in PartnerType])
    create.add_argument("--region", required=True)
    create.set_defaults(func=cmd_partners_create)
    for name in ("suspend", "reactivate"):
        status = partners.add_parser(name)
        status.add_argument("partner_id")
        status.add_argument("--reason", required=True, help="why (kept in the partner's lifecycle history)")
        status.set_defaults(func=cmd_partners_status)
    app = partners.add_parser("add-app", help="register an OAuth client for a partner")
    app.add_argument("partner_id")
    app.add_argument("--environment", required=True, choices=[e.value for e in Environment])
    app.add_argument("--jwks", required=True, help="file with the public JWK Set")
    app.add_argument("--scopes", required=True, help="space-separated scopes")
    app.add_argument("--plan")
    app.add_argument("--name")
    app.set_defaults(func=cmd_apps_create)

    demo = sub.add_parser("demo", help="act as a demo partner").add_subparsers(dest="command", required=True)
    token = demo.add_parser("token", help="get an access token for a demo app")
    token.add_argument("--partner", default="bank")
    token.add_argument("--environment", choices=[e.value for e in Environment], default="production")
    token.add_argument("--scope")
    token.add_argument(
        "--assertion-only", action="store_true", help="print the signed client assertion instead"
    )
    token.set_defaults(func=cmd_demo_token)
    consent = demo.add_parser(
        "consent", help="run the delegated flow for a demo customer; prints the app's access token"
    )
    consent.add_argument("--customer", default="zhang.min")
    consent.add_argument("--partner", default="bank", help="the demo app that asks (bank, shopmall)")
    consent.add_argument("--permissions", default="orders:read,orders:write,accounts:read,holdings:read")
    consent.add_argument("--limit", action="append", default=[], help="a consent limit as JSON (repeatable)")
    consent.set_defaults(func=cmd_demo_consent)
    proof = demo.add_parser("proof", help="a DPoP proof for one call (production tokens need one per call)")
    proof.add_argument("method")
    proof.add_argument("url", help="the full URL of the call (its query is ignored)")
    proof.add_argument("--token", help="the access token the call carries (adds ath)")
    proof.set_defaults(func=cmd_demo_proof)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    # Every command may open both databases: the sandbox never touches production data (ADR 0001).
    check_isolation(settings.database(Environment.PRODUCTION), settings.database(Environment.SANDBOX))
    try:
        result: int = args.func(settings, args)
    except DomainError as exc:
        print(f"refused: {exc.detail} {dict(exc.context) or ''}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
