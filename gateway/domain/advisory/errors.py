"""What the advisory rules refuse; each is a `DomainError` subclass that `problems.py` maps once."""

from __future__ import annotations

from gateway.domain.errors import RuleViolationError


class InvalidAnswersError(RuleViolationError):
    """Risk questionnaire answers or version are not valid; `context["field"]` names the input."""


class InvalidProposalError(RuleViolationError):
    """The inputs of a proposal (profile, holdings, cash, model, stored document) break a rule."""


class UnsuitableProposalError(RuleViolationError):
    """A proposal would recommend a product that suitability refuses for this investor."""
