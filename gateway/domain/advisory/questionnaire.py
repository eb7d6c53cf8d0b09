"""The risk questionnaire: versioned scored questions that give a customer's risk level C1..C5."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gateway.domain.advisory.errors import InvalidAnswersError
from gateway.domain.compliance.suitability import RiskLevel

QUESTIONNAIRE_VERSION: Final = "RQ-2026-11"


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    text: str
    points: int


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    options: tuple[Option, ...]

    @property
    def max_points(self) -> int:
        return max(option.points for option in self.options)

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)


@dataclass(frozen=True, slots=True)
class Band:
    """Totals from `min_points` to `max_points` (both included) give `risk_level`."""

    risk_level: RiskLevel
    min_points: int
    max_points: int


@dataclass(frozen=True, slots=True)
class Knockout:
    """One answer that caps the risk level at `cap`, whatever the total."""

    rule: str
    question_id: str
    option_id: str
    cap: RiskLevel
    reason: str


@dataclass(frozen=True, slots=True)
class Questionnaire:
    version: str
    questions: tuple[Question, ...]
    bands: tuple[Band, ...]
    knockouts: tuple[Knockout, ...]

    def __post_init__(self) -> None:
        # A questionnaire whose bands leave a gap or overlap would score some answers to no level.
        expected_min = 0
        for band, level in zip(self.bands, RiskLevel, strict=True):
            if band.risk_level is not level or band.min_points != expected_min:
                raise ValueError(f"{self.version}: band {band} does not follow on from {expected_min}")
            expected_min = band.max_points + 1
        if expected_min - 1 != self.max_total:
            raise ValueError(f"{self.version}: the bands end at {expected_min - 1}, not {self.max_total}")
        for knockout in self.knockouts:
            question = self.question(knockout.question_id)
            if question is None or question.option(knockout.option_id) is None:
                raise ValueError(f"{self.version}: knockout {knockout.rule} names no known option")

    @property
    def max_total(self) -> int:
        return sum(question.max_points for question in self.questions)

    def question(self, question_id: str) -> Question | None:
        return next((question for question in self.questions if question.id == question_id), None)

    def band_of(self, total: int) -> Band:
        return next(band for band in self.bands if band.min_points <= total <= band.max_points)

    def to_document(self) -> dict[str, object]:
        """The questionnaire as published to partners and customers, points and rules included."""
        return {
            "version": self.version,
            "max_total": self.max_total,
            "questions": [
                {
                    "id": question.id,
                    "text": question.text,
                    "options": [
                        {"id": option.id, "text": option.text, "points": option.points}
                        for option in question.options
                    ],
                }
                for question in self.questions
            ],
            "bands": [_band_document(band) for band in self.bands],
            "knockouts": [
                {
                    "rule": knockout.rule,
                    "question_id": knockout.question_id,
                    "option_id": knockout.option_id,
                    "cap": knockout.cap.name,
                    "reason": knockout.reason,
                }
                for knockout in self.knockouts
            ],
        }


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """The scored answers: the level, the points behind it and the knockouts that capped it."""

    version: str
    total: int
    risk_level: RiskLevel
    uncapped_level: RiskLevel  # the band of the total, before knockouts
    points: Mapping[str, int]  # question id -> points, in question order
    bands: tuple[Band, ...]
    knockouts: tuple[Knockout, ...]  # the knockouts the answers triggered

    def to_document(self) -> dict[str, object]:
        return {
            "version": self.version,
            "total": self.total,
            "risk_level": self.risk_level.name,
            "uncapped_level": self.uncapped_level.name,
            "points": dict(self.points),
            "bands": [_band_document(band) for band in self.bands],
            "knockouts": [knockout.rule for knockout in self.knockouts],
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> RiskAssessment:
        """Rebuild from `to_document`; bands and knockouts come from the questionnaire of that version."""
        try:
            version = document["version"]
            total = document["total"]
            points = document["points"]
            knockout_rules = document["knockouts"]
            if not (
                isinstance(version, str)
                and isinstance(total, int)
                and isinstance(points, Mapping)
                and isinstance(knockout_rules, list)
            ):
                raise TypeError("unexpected field types")
            source = questionnaire(version)
            by_rule = {knockout.rule: knockout for knockout in source.knockouts}
            return cls(
                version=version,
                total=total,
                risk_level=RiskLevel[str(document["risk_level"])],
                uncapped_level=RiskLevel[str(document["uncapped_level"])],
                points=MappingProxyType({str(key): int(value) for key, value in points.items()}),
                bands=source.bands,
                knockouts=tuple(by_rule[str(rule)] for rule in knockout_rules),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAnswersError(
                f"risk assessment document is not valid: {exc!r}", field="document"
            ) from None


def questionnaire(version: str = QUESTIONNAIRE_VERSION) -> Questionnaire:
    """The questionnaire of a version; an unknown version is an InvalidAnswersError."""
    try:
        return QUESTIONNAIRES[version]
    except KeyError:
        raise InvalidAnswersError(
            f"unknown questionnaire version {version!r}",
            field="version",
            value=version,
            known=sorted(QUESTIONNAIRES),
        ) from None


def score(answers: Mapping[str, str], version: str = QUESTIONNAIRE_VERSION) -> RiskAssessment:
    """Score one complete set of answers (question id -> option id) into a risk level."""
    source = questionnaire(version)
    known = {question.id for question in source.questions}
    unknown = sorted(str(question_id) for question_id in answers if question_id not in known)
    if unknown:
        raise InvalidAnswersError(
            f"unknown question {unknown[0]!r}", field=f"answers.{unknown[0]}", unknown=unknown
        )
    missing = [question.id for question in source.questions if question.id not in answers]
    if missing:
        raise InvalidAnswersError(
            f"question {missing[0]!r} is not answered", field=f"answers.{missing[0]}", missing=missing
        )
    points: dict[str, int] = {}
    for question in source.questions:
        answer = answers[question.id]
        option = question.option(answer) if isinstance(answer, str) else None
        if option is None:
            raise InvalidAnswersError(
                f"{answer!r} is not an option of question {question.id!r}",
                field=f"answers.{question.id}",
                value=str(answer),
                options=[candidate.id for candidate in question.options],
            )
        points[question.id] = option.points
    total = sum(points.values())
    uncapped = source.band_of(total).risk_level
    triggered = tuple(k for k in source.knockouts if answers[k.question_id] == k.option_id)
    cap = min((k.cap for k in triggered), default=RiskLevel.C5)
    return RiskAssessment(
        version=source.version,
        total=total,
        risk_level=min(cap, uncapped),
        uncapped_level=uncapped,
        points=MappingProxyType(points),
        bands=source.bands,
        knockouts=triggered,
    )


def _band_document(band: Band) -> dict[str, object]:
    return {"risk_level": band.risk_level.name, "min_points": band.min_points, "max_points": band.max_points}


def _question(question_id: str, text: str, *options: tuple[str, str, int]) -> Question:
    return Question(question_id, text, tuple(Option(*option) for option in options))


# Version RQ-2026-11. Ten questions, each answered with one option id; the maximum total is 60.
# Bands: C1 0-12, C2 13-24, C3 25-36, C4 37-48, C5 49-60. Knockouts then cap the level, never raise
# it: RQ-KO-1 "cannot bear any loss" caps at C1; RQ-KO-2 a horizon under one year and RQ-KO-3 needing
# most of the money within a year cap at C2, because a high score elsewhere cannot buy back the risk
# capacity such an answer rules out.
# Points, bands and knockouts are published with the questions (`Questionnaire.to_document`): the
# method behind a risk level has to be explainable to the customer, and the knockouts keep an
# inflated answer elsewhere from lifting a level that one honest answer rules out.
# Any change to a question, option, points, band or knockout is a new version; old versions stay in
# QUESTIONNAIRES so that a stored assessment can still be explained.
RQ_2026_11: Final = Questionnaire(
    version="RQ-2026-11",
    questions=(
        _question(
            "horizon",
            "How long do you plan to keep this money invested?",
            ("under_1y", "Less than 1 year", 0),
            ("1_3y", "1 to 3 years", 3),
            ("3_5y", "3 to 5 years", 5),
            ("5_10y", "5 to 10 years", 8),
            ("over_10y", "More than 10 years", 10),
        ),
        _question(
            "age_band",
            "How old are you?",
            ("70_plus", "70 or older", 0),
            ("60_69", "60 to 69", 1),
            ("50_59", "50 to 59", 2),
            ("35_49", "35 to 49", 3),
            ("18_34", "18 to 34", 4),
        ),
        _question(
            "income_stability",
            "How stable is your income?",
            ("no_regular_income", "I have no regular income", 0),
            ("irregular", "Irregular or uncertain", 1),
            ("stable", "Stable", 3),
            ("stable_growing", "Stable and expected to grow", 4),
        ),
        _question(
            "assets_share",
            "What share of your financial assets is this investment?",
            ("over_75", "More than 75%", 0),
            ("50_75", "50% to 75%", 1),
            ("25_50", "25% to 50%", 2),
            ("10_25", "10% to 25%", 3),
            ("under_10", "Less than 10%", 4),
        ),
        _question(
            "loss_tolerance",
            "What is the largest loss in one year you could bear on this investment?",
            ("none", "I cannot bear any loss", 0),
            ("up_to_5", "Up to 5%", 2),
            ("5_to_15", "5% to 15%", 4),
            ("15_to_30", "15% to 30%", 6),
            ("over_30", "More than 30%", 8),
        ),
        _question(
            "drop_reaction",
            "Your investments fall 20% in a few weeks. What do you do?",
            ("sell_all", "Sell everything", 0),
            ("sell_some", "Sell part of them", 3),
            ("hold", "Hold and wait", 6),
            ("buy_more", "Buy more", 8),
        ),
        _question(
            "experience",
            "Which products have you invested in before?",
            ("none", "None", 0),
            ("deposits_mmf", "Deposits and money market funds only", 1),
            ("bond_funds", "Bonds or bond funds", 2),
            ("equity", "Stocks or equity funds", 3),
            ("derivatives", "Derivatives, leveraged or structured products", 4),
        ),
        _question(
            "objective",
            "What is the main goal of this investment?",
            ("preserve", "Preserve my capital", 0),
            ("income", "Steady income", 3),
            ("balanced", "Balanced income and growth", 5),
            ("growth", "Long-term growth", 8),
            ("aggressive", "Maximum growth, accepting large swings", 10),
        ),
        _question(
            "liquidity_needs",
            "How much of this money might you need within the next 12 months?",
            ("most", "Most or all of it", 0),
            ("half", "About half", 1),
            ("some", "A small part", 3),
            ("none", "None of it", 4),
        ),
        _question(
            "derivatives_knowledge",
            "How well do you know derivatives (futures, options, leveraged products)?",
            ("none", "Not at all", 0),
            ("basic", "I know the basic ideas", 1),
            ("good", "I understand how they work and their risks", 3),
            ("professional", "I trade them or work with them professionally", 4),
        ),
    ),
    bands=(
        Band(RiskLevel.C1, 0, 12),
        Band(RiskLevel.C2, 13, 24),
        Band(RiskLevel.C3, 25, 36),
        Band(RiskLevel.C4, 37, 48),
        Band(RiskLevel.C5, 49, 60),
    ),
    knockouts=(
        Knockout(
            "RQ-KO-1",
            "loss_tolerance",
            "none",
            RiskLevel.C1,
            "A customer who cannot bear any loss is conservative (C1), whatever the other answers.",
        ),
        Knockout(
            "RQ-KO-2",
            "horizon",
            "under_1y",
            RiskLevel.C2,
            "Money invested for less than a year has no time to recover from a fall: at most C2.",
        ),
        Knockout(
            "RQ-KO-3",
            "liquidity_needs",
            "most",
            RiskLevel.C2,
            "Money mostly needed within a year may have to be sold in a fall: at most C2.",
        ),
    ),
)

QUESTIONNAIRES: Final[Mapping[str, Questionnaire]] = MappingProxyType({RQ_2026_11.version: RQ_2026_11})
