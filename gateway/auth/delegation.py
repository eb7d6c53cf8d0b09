"""Delegated access to the FAPI 2.0 Security Profile: pushed authorization requests (RFC 9126),
PKCE S256 (RFC 7636), the consent decision, single-use 60-second codes with the issuer in the
response (RFC 9207), and refresh tokens that live and die with the consent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)

from gateway.auth import pkce
from gateway.auth.grants import REQUEST_URI_PREFIX, digest, new_secret
from gateway.auth.pairwise import PairwiseSubjects
from gateway.auth.revocation import RevocationList
from gateway.auth.tokens import TokenService
from gateway.domain.clock import Clock
from gateway.domain.consent.errors import ConsentNotFoundError
from gateway.domain.consent.models import Consent, ConsentStatus
from gateway.domain.consent.service import ConsentService
from gateway.domain.identity.models import AuthorizationCode, PushedRequest, RefreshToken
from gateway.domain.identity.ports import GrantStore
from gateway.domain.scopes import CUSTOMER_DELEGATED, Scope, parse_scopes
from partners.models import Client

PUSHED_REQUEST_LIFETIME: Final = timedelta(seconds=60)  # RFC 9126 §2.2: short; FAPI: under 600 s
TRANSACTION_LIFETIME: Final = timedelta(minutes=10)  # the customer's time on the consent screen
CODE_LIFETIME: Final = timedelta(seconds=60)  # FAPI 2.0 §5.3.2.1
REFRESH_TOKEN_PREFIX: Final = "rt_"  # noqa: S105 (a prefix, not a secret)
MAX_STATE_LENGTH: Final = 500
# RFC 9126 §2.1 and FAPI 2.0: the request travels by value in the pushed request, never by
# reference, and never as an (unsupported) request object.
FORBIDDEN_PUSHED_PARAMETERS: Final = ("request_uri", "request")


class InvalidDPoPBindingError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §5.8/§10: the proof's key is not the one the grant is bound to."""

    error = "invalid_dpop_proof"
    status_code = 400


class AuthorizationRequestError(Exception):
    """The authorization endpoint cannot continue; shown to the customer, never redirected."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Transaction:
    """A pushed request opened by a signed-in customer: what the consent screen shows."""

    id: str
    request: PushedRequest
    consent: Consent


@dataclass(frozen=True, slots=True)
class Delegation:
    grants: GrantStore
    consents: ConsentService
    tokens: TokenService
    revocations: RevocationList
    pairwise: PairwiseSubjects
    clock: Clock
    # Production apps must use DPoP for every grant; the sandbox also allows bearer tokens.
    dpop_required: bool

    @property
    def issuer(self) -> str:
        return self.tokens.issuer

    # RFC 9126: the pushed authorization request endpoint ------------------------------------------
    def push(self, client: Client, form: Mapping[str, str], dpop_jkt: str | None) -> dict[str, Any]:
        for name in FORBIDDEN_PUSHED_PARAMETERS:
            if name in form:
                raise InvalidRequestError(description=f"{name} is not accepted at the PAR endpoint")
        if form.get("response_type") != "code":
            raise InvalidRequestError(description="response_type must be code")
        if form.get("client_id", client.app.client_id) != client.app.client_id:
            raise InvalidRequestError(description="client_id must be the authenticated client")
        redirect_uri = form.get("redirect_uri", "")
        if redirect_uri not in client.app.redirect_uris:
            # Exact string match against the registration (FAPI 2.0 §5.3.1.2; RFC 9700 §4.1.3).
            raise InvalidRequestError(description="redirect_uri is not registered for this client")
        if form.get("code_challenge_method") != pkce.METHOD:
            raise InvalidRequestError(description="code_challenge_method must be S256")
        if not pkce.is_valid_challenge(form.get("code_challenge", "")):
            raise InvalidRequestError(description="code_challenge must be an S256 challenge")
        state = form.get("state")
        if state is not None and not 0 < len(state) <= MAX_STATE_LENGTH:
            raise InvalidRequestError(description=f"state is 1 to {MAX_STATE_LENGTH} characters")
        jkt = self._pushed_dpop_key(form, dpop_jkt)
        consent = self._awaiting_consent(client, form.get("consent_id", ""))
        requested = parse_scopes(form.get("scope", ""))
        if requested - consent.permissions:
            extra = " ".join(sorted(requested - consent.permissions))
            raise InvalidScopeError(description=f"scope beyond the consent's permissions: {extra}")
        parameters = {
            name: form[name]
            for name in ("redirect_uri", "code_challenge", "state", "consent_id", "scope")
            if name in form
        }
        request_uri = new_secret(REQUEST_URI_PREFIX)
        expires_at = self.clock.now() + PUSHED_REQUEST_LIFETIME
        self.grants.push(
            digest(request_uri),
            PushedRequest(client.app.client_id, parameters, dpop_jkt=jkt, expires_at=expires_at),
        )
        return {"request_uri": request_uri, "expires_in": int(PUSHED_REQUEST_LIFETIME.total_seconds())}

    @staticmethod
    def _pushed_dpop_key(form: Mapping[str, str], proof_jkt: str | None) -> str | None:
        """RFC 9449 §10: the code is bound to `dpop_jkt` or the PAR request's proof; both must agree."""
        given = form.get("dpop_jkt")
        if given is not None and proof_jkt is not None and given != proof_jkt:
            raise InvalidDPoPBindingError(description="dpop_jkt does not match the DPoP proof's key")
        return proof_jkt or given

    def _awaiting_consent(self, client: Client, consent_id: str) -> Consent:
        try:
            consent = self.consents.get(consent_id, partner_id=client.partner.id)
        except ConsentNotFoundError:
            raise InvalidRequestError(description="consent_id names no consent of this partner") from None
        if consent.client_id != client.app.client_id:
            raise InvalidRequestError(description="the consent belongs to another app of this partner")
        if consent.status is not ConsentStatus.AWAITING_AUTHORIZATION:
            raise InvalidRequestError(
                description=f"the consent is {consent.status}, not awaiting authorization"
            )
        if consent.expires_at <= self.clock.now():
            raise InvalidRequestError(description="the consent has expired")
        return consent

    # the authorization endpoint -----------------------------------------------------------------
    def pending(self, client_id: str, request_uri: str) -> PushedRequest:
        """The pushed request a browser brings, before the customer signs in (not consumed)."""
        request = self.grants.pushed(digest(request_uri)) if request_uri else None
        if request is None or request.client_id != client_id:
            raise AuthorizationRequestError(
                "Unknown authorization request", "The app sent an unknown authorization request."
            )
        if request.used_at is not None or request.expires_at <= self.clock.now():
            raise AuthorizationRequestError(
                "This link has expired",
                "The authorization request was already used or has expired. "
                "Go back to the app and start again.",
            )
        return request

    def open(self, client_id: str, request_uri: str, customer_id: str) -> str:
        """Use the pushed request once and start the consent screen's transaction."""
        self.pending(client_id, request_uri)
        transaction_id = new_secret("azt_")
        opened = self.grants.open_pushed(
            digest(request_uri),
            transaction_hash=digest(transaction_id),
            customer_id=customer_id,
            now=self.clock.now(),
        )
        if not opened:
            raise AuthorizationRequestError(
                "This link has expired", "The authorization request was already used or has expired."
            )
        return transaction_id

    def transaction(self, transaction_id: str, customer_id: str) -> Transaction:
        request = self.grants.by_transaction(digest(transaction_id)) if transaction_id else None
        now = self.clock.now()
        if (
            request is None
            or request.customer_id != customer_id
            or request.used_at is None
            or request.decided_at is not None
            or now > request.used_at + TRANSACTION_LIFETIME
        ):
            raise AuthorizationRequestError(
                "This request is no longer open",
                "It was already answered or has timed out. Go back to the app and start again.",
            )
        consent = self.consents.repository.get(request.consent_id)
        if consent is None or consent.status is not ConsentStatus.AWAITING_AUTHORIZATION:
            raise AuthorizationRequestError(
                "This request is no longer open", "The app withdrew the request, or it was already answered."
            )
        return Transaction(transaction_id, request, consent)

    def approve(
        self,
        transaction: Transaction,
        customer_id: str,
        *,
        granted: frozenset[Scope],
        opted_in_high_risk: bool,
        allow_cross_border: bool,
    ) -> str:
        """Authorize the consent as the customer narrowed it; the redirect that carries the code."""
        now = self.clock.now()
        # Check the rules before closing the transaction, so a refused choice can be corrected.
        transaction.consent.authorize(
            customer_id,
            granted,
            opted_in_high_risk=opted_in_high_risk,
            allow_cross_border=allow_cross_border,
            now=now,
        )
        self._close(transaction, customer_id)
        consent = self.consents.authorize(
            transaction.consent.id,
            customer_id=customer_id,
            granted=granted,
            opted_in_high_risk=opted_in_high_risk,
            allow_cross_border=allow_cross_border,
        )
        request = transaction.request
        requested = parse_scopes(request.parameters.get("scope", "")) or consent.permissions
        code = new_secret("ac_")
        self.grants.add_code(
            AuthorizationCode(
                code_hash=digest(code),
                client_id=request.client_id,
                customer_id=customer_id,
                consent_id=consent.id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.parameters["code_challenge"],
                scopes=frozenset(str(s) for s in consent.permissions) & requested,
                dpop_jkt=request.dpop_jkt,
                expires_at=now + CODE_LIFETIME,
            )
        )
        return self._redirect(request, {"code": code})

    def deny(self, transaction: Transaction, customer_id: str) -> str:
        self._close(transaction, customer_id)
        self.consents.reject(transaction.consent.id, customer_id=customer_id)
        return self._redirect(
            transaction.request,
            {"error": "access_denied", "error_description": "the customer denied the request"},
        )

    def _close(self, transaction: Transaction, customer_id: str) -> None:
        if not self.grants.decide(digest(transaction.id), customer_id=customer_id, now=self.clock.now()):
            raise AuthorizationRequestError("This request is no longer open", "It was already answered.")

    def _redirect(self, request: PushedRequest, parameters: dict[str, str]) -> str:
        # RFC 9207: `iss` in every authorization response, success or error, against mix-up attacks.
        if request.state is not None:
            parameters["state"] = request.state
        parameters["iss"] = self.issuer
        separator = "&" if "?" in request.redirect_uri else "?"
        return f"{request.redirect_uri}{separator}{urlencode(parameters)}"

    # the token endpoint -------------------------------------------------------------------------
    def redeem(self, client: Client, form: Mapping[str, str], dpop_jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §4.1.3 with PKCE and DPoP; a replayed code revokes what it produced."""
        code = self.grants.code(digest(form.get("code", ""))) if form.get("code") else None
        now = self.clock.now()
        if code is None or code.client_id != client.app.client_id:
            raise InvalidGrantError(description="unknown authorization code")
        if code.used_at is not None:
            self._revoke_produced(code)
            raise InvalidGrantError(description="the authorization code was already used")
        if now >= code.expires_at:
            raise InvalidGrantError(description="the authorization code has expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise InvalidGrantError(description="redirect_uri does not match the authorization request")
        if not pkce.verify(form.get("code_verifier", ""), code.code_challenge):
            raise InvalidGrantError(description="code_verifier does not match the code_challenge")
        jkt = self._bound_key(code.dpop_jkt, dpop_jkt)
        consent = self._active_consent(code.consent_id, client)
        value, token = self._access_token(client, consent, code.scopes, jkt)
        refresh_value = new_secret(REFRESH_TOKEN_PREFIX)
        refresh = RefreshToken(
            token_hash=digest(refresh_value),
            client_id=client.app.client_id,
            consent_id=consent.id,
            customer_id=code.customer_id,
            dpop_jkt=jkt,
            scopes=code.scopes,
            created_at=now,
        )
        expires_at = datetime.fromtimestamp(token.expires_at, now.tzinfo)
        won = self.grants.redeem_code(
            code.code_hash, now=now, access_jti=token.jti, access_expires_at=expires_at, refresh=refresh
        )
        if not won:  # a concurrent redemption won: this one is the replay
            latest = self.grants.code(code.code_hash)
            if latest is not None:
                self._revoke_produced(latest)
            raise InvalidGrantError(description="the authorization code was already used")
        return self._token_response(value, token.expires_at - token.issued_at, code.scopes, jkt) | {
            "refresh_token": refresh_value
        }

    def refresh(self, client: Client, form: Mapping[str, str], dpop_jkt: str | None) -> dict[str, Any]:
        """RFC 6749 §6; no rotation (FAPI 2.0 §5.3.2.1): the token lives as long as the consent."""
        value = form.get("refresh_token", "")
        stored = self.grants.refresh_token(digest(value)) if value else None
        if stored is None or stored.client_id != client.app.client_id or stored.revoked_at is not None:
            raise InvalidGrantError(description="unknown or revoked refresh token")
        jkt = self._bound_key(stored.dpop_jkt, dpop_jkt)
        requested = parse_scopes(form.get("scope", "")) or stored.scopes
        if requested - stored.scopes:
            raise InvalidScopeError(description="a refresh cannot widen the scope")
        consent = self._active_consent(stored.consent_id, client)
        scopes = frozenset(requested) & frozenset(str(s) for s in consent.permissions)
        access, token = self._access_token(client, consent, scopes, jkt)
        return self._token_response(access, token.expires_at - token.issued_at, scopes, jkt)

    def revoke_refresh_token(self, client: Client, value: str) -> bool:
        """RFC 7009 for refresh tokens; false when the token is not this client's."""
        stored = self.grants.refresh_token(digest(value))
        if stored is None or stored.client_id != client.app.client_id:
            return False
        self.grants.revoke_refresh_token(stored.token_hash, now=self.clock.now())
        return True

    def _bound_key(self, bound: str | None, presented: str | None) -> str | None:
        if bound is not None and presented != bound:
            raise InvalidDPoPBindingError(
                description="present a DPoP proof made with the key the grant is bound to"
            )
        if presented is None and self.dpop_required:
            raise InvalidDPoPBindingError(description="production apps must send a DPoP proof (RFC 9449)")
        return presented

    def _active_consent(self, consent_id: str, client: Client) -> Consent:
        consent = self.consents.repository.get(consent_id)
        if consent is None or consent.client_id != client.app.client_id:
            raise InvalidGrantError(description="the consent behind this grant is unknown")
        if not consent.is_active(self.clock.now()):
            raise InvalidGrantError(description="the consent behind this grant is no longer authorized")
        return consent

    def _access_token(
        self, client: Client, consent: Consent, scopes: frozenset[str], jkt: str | None
    ) -> tuple[str, Any]:
        if consent.customer_id is None or not scopes <= CUSTOMER_DELEGATED:
            raise InvalidGrantError(description="the consent grants nothing to delegate")
        return self.tokens.issue(
            client_id=client.app.client_id,
            subject=self.pairwise.subject(client.partner.id, consent.customer_id),
            scopes=scopes,
            audience=self.tokens.api_audience,
            jkt=jkt,
            consent_id=consent.id,
        )

    @staticmethod
    def _token_response(
        value: str, expires_in: int, scopes: frozenset[str], jkt: str | None
    ) -> dict[str, Any]:
        return {
            "access_token": value,
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": expires_in,
            "scope": " ".join(sorted(scopes)),
        }

    def _revoke_produced(self, code: AuthorizationCode) -> None:
        # RFC 6749 §4.1.2: a code used twice revokes the tokens issued with it.
        if code.access_jti is not None and code.access_expires_at is not None:
            self.revocations.revoke(
                jti=code.access_jti, client_id=code.client_id, expires_at=code.access_expires_at
            )
        if code.refresh_hash is not None:
            self.grants.revoke_refresh_token(code.refresh_hash, now=self.clock.now())


def refresh_tokens_die_with_consent(grants: GrantStore, clock: Clock) -> Callable[[Consent], None]:
    """A consent listener: a consent that stops being authorized takes its refresh tokens with it."""

    def listener(consent: Consent) -> None:
        if consent.status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED):
            grants.revoke_refresh_tokens_of_consent(consent.id, now=clock.now())

    return listener
