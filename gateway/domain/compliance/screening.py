"""Sanctions screening: normalised fuzzy name matching against the consolidated list, with its reasons."""

# Name data in several scripts is the point of this module, so look-alike letters are intended.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz, process

from gateway.domain.compliance.sanctions_data import SanctionsEntry, SanctionsList
from gateway.domain.errors import RuleViolationError

# Score adjustments applied on top of the best name score (rule table, in score points of 0..1):
#   birth_date_exact     +0.05  a listed full birth date equals the subject's
#   birth_year_match     +0.02  otherwise, a listed birth year equals the subject's
#   birth_date_mismatch  -0.15  every listed birth year is more than one year away from the subject's
#   country_match        +0.03  the subject's country is one of the listed nationalities
#   country_mismatch     -0.05  the entry lists nationalities and the subject's is not among them
# Within one year (not the same year) there is no adjustment: listed years are often estimates.
# Nothing applies when the subject or the entry lacks the datum. The result is clamped to 0..1.
SCORE_ADJUSTMENTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "birth_date_exact": 0.05,
        "birth_year_match": 0.02,
        "birth_date_mismatch": -0.15,
        "country_match": 0.03,
        "country_mismatch": -0.05,
    }
)
# A weak alias (a low-quality a.k.a.) can never block on its own: an exact match on it scores 0.90.
WEAK_ALIAS_WEIGHT: Final = 0.9
# Hits below the review threshold are still reported down to this margin, so an officer sees near misses.
REPORT_FLOOR_MARGIN: Final = 0.10
DEFAULT_MAX_HITS: Final = 10
MIN_NAME_LETTERS: Final = 2
MAX_NAME_LENGTH: Final = 256

# The largest total bonus; names scoring below (floor - bonus) can never be reported, so skip them early.
_MAX_BONUS: Final = SCORE_ADJUSTMENTS["birth_date_exact"] + SCORE_ADJUSTMENTS["country_match"]

# Honorifics and legal-form suffixes carry no identity; "Co., Ltd." must not make two companies alike.
_STOPWORDS: Final = frozenset(
    {
        "mr", "mrs", "ms", "miss", "dr", "sheikh", "shaikh",
        "ltd", "llc", "co", "inc", "limited", "company", "corp", "corporation", "plc", "gmbh", "jsc",
        "fze", "ooo",
    }
)  # fmt: skip
# Arabic articles belong to the following name: "al-Rashid", "Alrashid" and "el Rashid" all become "alrashid".
_ARTICLES: Final = frozenset({"al", "el"})
# Patronymic connectors ("son/daughter of") are left out or abbreviated at will, so they are dropped.
_CONNECTORS: Final = frozenset({"bin", "ibn", "bint", "بن", "ابن", "بنت"})

_HAN: Final = r"\u3400-\u4dbf\u4e00-\u9fff"
_HAN_RUN: Final = re.compile(f"[{_HAN}]+")
_HAN_LEGAL_SUFFIX: Final = re.compile(f"(?:股份有限公司|有限责任公司|有限責任公司|有限公司|公司)(?![{_HAN}])")
_COMPOUND_SURNAMES: Final = frozenset(
    {
        "欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官",
        "东方", "東方", "皇甫", "令狐", "慕容", "公孙", "公孫",
    }
)  # fmt: skip
_SEPARATORS: Final = re.compile(r"[\W_]+")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")

# Applied after casefolding. Cyrillic is romanised (a simplified BGN/PCGN table) so that "Александр Петров"
# meets "Aleksandr Petrov"; it runs before diacritics are stripped, since NFKD would turn "й" into "и".
# Letters that NFKD does not decompose are spelled out; apostrophes and ʿayn/hamza marks vanish
# ("O'Brien" == "OBrien", "Qaʿida" == "Qaida"); Arabic final forms are folded as name matchers do.
_LETTERS: Final = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
        "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi",
        "є": "ye", "ґ": "g",
        "ø": "o", "ß": "ss", "æ": "ae", "đ": "d", "ł": "l", "œ": "oe", "þ": "th", "ð": "d", "ı": "i",
        "'": None, "’": None, "ʼ": None, "ʻ": None, "ʿ": None, "ʾ": None, "`": None, "´": None,
        "ـ": None, "ى": "ي", "ة": "ه",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NormalisedName:
    """The comparison forms of one name: its tokens and the keys built from them."""

    tokens: tuple[str, ...]

    @property
    def sorted_text(self) -> str:
        return " ".join(sorted(self.tokens))

    @property
    def sorted_key(self) -> str:
        return "".join(sorted(self.tokens))

    @property
    def ordered_key(self) -> str:
        return "".join(self.tokens)

    @property
    def reversed_key(self) -> str:
        return "".join(reversed(self.tokens))

    @property
    def letter_count(self) -> int:
        return sum(char.isalpha() for char in self.ordered_key)


def normalise_name(name: str) -> NormalisedName:
    """Reduce a name in any script to lower-case Latin-or-native tokens without diacritics or noise."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _romanise_han(_HAN_LEGAL_SUFFIX.sub(" ", text))
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return NormalisedName(_tokens(_SEPARATORS.sub(" ", text).split()))


def _romanise_han(text: str) -> str:
    """Spell Han characters in toneless pinyin; simplified and traditional forms give the same syllables."""
    runs = _HAN_RUN.findall(text)
    if not runs:
        return text
    # A name written wholly in Han is surname first; its given name is one word in pinyin ("Chen Weiguo").
    whole_name = len(runs) == 1 and _HAN_RUN.fullmatch(text.strip()) is not None

    def spell(match: re.Match[str]) -> str:
        run = match.group()
        syllables: list[str] = [str(syllable) for syllable in lazy_pinyin(run, v_to_u=True)]
        if whole_name and 2 <= len(run) <= 4:
            surname = 2 if len(run) > 2 and run[:2] in _COMPOUND_SURNAMES else 1
            return f" {''.join(syllables[:surname])} {''.join(syllables[surname:])} "
        return f" {''.join(syllables)} "

    return _HAN_RUN.sub(spell, text)


def _tokens(words: Iterable[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    article = ""
    for word in words:
        if word in _STOPWORDS or word in _CONNECTORS:
            continue
        if word in _ARTICLES:
            article = "al"
            continue
        tokens.append(article + word)
        article = ""
    return tuple(tokens)


@dataclass(frozen=True, slots=True)
class ScreeningThresholds:
    """Score thresholds: at or above `review` a human looks, at or above `block` the party is refused."""

    review: float = 0.82
    block: float = 0.95

    def __post_init__(self) -> None:
        if not 0 < self.review < self.block <= 1:
            raise ValueError(f"thresholds need 0 < review < block <= 1, got {self.review} and {self.block}")

    def decide(self, score: float) -> ScreeningDecision:
        if score >= self.block:
            return ScreeningDecision.BLOCK
        if score >= self.review:
            return ScreeningDecision.REVIEW
        return ScreeningDecision.CLEAR


DEFAULT_THRESHOLDS: Final = ScreeningThresholds()


@dataclass(frozen=True, slots=True)
class ScreeningSubject:
    """The party to screen: a name and, when known, a birth date and an ISO 3166 alpha-2 country."""

    name: str
    birth_date: date | None = None
    country: str | None = None


class ScreeningDecision(StrEnum):
    CLEAR = "clear"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class ScreeningHit:
    """One listed party that resembles the subject, with the parts of its score."""

    entry_id: str
    primary_name: str
    matched_name: str
    kind: str
    programs: tuple[str, ...]
    score: float
    name_score: float
    adjustments: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The decision, the hits that led to it (best first) and the list and thresholds used."""

    decision: ScreeningDecision
    hits: tuple[ScreeningHit, ...]
    list_version: str
    thresholds: ScreeningThresholds


@dataclass(frozen=True, slots=True)
class _IndexedName:
    entry: int
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class _ListedBirth:
    year: int
    day: date | None


class Screener:
    """Screens subjects against one sanctions list; every listed name is normalised once, here."""

    __slots__ = (
        "_births",
        "_max_hits",
        "_names",
        "_ordered_keys",
        "_report_floor",
        "_reversed_keys",
        "_sanctions",
        "_sorted_keys",
        "_sorted_texts",
        "_thresholds",
    )

    def __init__(
        self,
        sanctions: SanctionsList,
        thresholds: ScreeningThresholds = DEFAULT_THRESHOLDS,
        *,
        max_hits: int = DEFAULT_MAX_HITS,
        report_floor: float | None = None,
    ) -> None:
        if max_hits < 1:
            raise ValueError("max_hits must be at least 1")
        floor = round(thresholds.review - REPORT_FLOOR_MARGIN, 4) if report_floor is None else report_floor
        if not 0 <= floor <= thresholds.review:
            raise ValueError(f"report_floor must be between 0 and the review threshold, got {floor}")
        self._sanctions = sanctions
        self._thresholds = thresholds
        self._report_floor = floor
        self._max_hits = max_hits
        self._births = tuple(_listed_births(entry) for entry in sanctions.entries)
        names: list[_IndexedName] = []
        forms: list[NormalisedName] = []
        for index, entry in enumerate(sanctions.entries):
            named = [(entry.primary_name, 1.0)]
            named += [(a.name, 1.0 if a.quality == "strong" else WEAK_ALIAS_WEIGHT) for a in entry.aliases]
            for name, weight in named:
                form = normalise_name(name)
                if form.letter_count < MIN_NAME_LETTERS:
                    raise ValueError(f"{entry.id}: {name!r} has no usable letters once normalised")
                names.append(_IndexedName(index, name, weight))
                forms.append(form)
        self._names = tuple(names)
        self._sorted_texts = tuple(form.sorted_text for form in forms)
        self._sorted_keys = tuple(form.sorted_key for form in forms)
        self._ordered_keys = tuple(form.ordered_key for form in forms)
        self._reversed_keys = tuple(form.reversed_key for form in forms)

    @property
    def thresholds(self) -> ScreeningThresholds:
        return self._thresholds

    @property
    def report_floor(self) -> float:
        return self._report_floor

    @property
    def max_hits(self) -> int:
        return self._max_hits

    def screen(self, subject: ScreeningSubject) -> ScreeningResult:
        """Score the subject against every listed party and decide clear, review or block."""
        if len(subject.name) > MAX_NAME_LENGTH:  # bounds the matching work on hostile input
            raise RuleViolationError(f"name must be at most {MAX_NAME_LENGTH} characters", field="name")
        query = normalise_name(subject.name)
        if query.letter_count < MIN_NAME_LETTERS:
            raise RuleViolationError(
                "name must contain at least two letters", field="name", name=subject.name
            )
        country = _country(subject.country)
        hits: list[ScreeningHit] = []
        for entry_index, (name_score, matched_name) in self._best_names(query).items():
            entry = self._sanctions.entries[entry_index]
            adjustments = self._adjustments(entry, self._births[entry_index], subject.birth_date, country)
            score = round(min(1.0, max(0.0, name_score + sum(value for _, value in adjustments))), 4)
            if score >= self._report_floor:
                hits.append(
                    ScreeningHit(
                        entry_id=entry.id,
                        primary_name=entry.primary_name,
                        matched_name=matched_name,
                        kind=entry.kind,
                        programs=entry.programs,
                        score=score,
                        name_score=round(name_score, 4),
                        adjustments=adjustments,
                    )
                )
        hits.sort(key=lambda hit: (-hit.score, hit.entry_id))
        decision = self._thresholds.decide(hits[0].score) if hits else ScreeningDecision.CLEAR
        return ScreeningResult(
            decision=decision,
            hits=tuple(hits[: self._max_hits]),
            list_version=self._sanctions.version,
            thresholds=self._thresholds,
        )

    def _best_names(self, query: NormalisedName) -> dict[int, tuple[float, str]]:
        """Best weighted name score (0..1) and the name that gave it, per entry worth reporting."""
        cutoff = max(0.0, (self._report_floor - _MAX_BONUS) * 100)
        raw: dict[int, float] = {}
        # Token-sort ratio makes word order irrelevant; the space-free keys make "chen wei guo" equal
        # "chen weiguo" and "Alrashid" equal "al Rashid"; the reversed key covers surname-last order.
        comparisons = (
            (query.sorted_text, self._sorted_texts),
            (query.sorted_key, self._sorted_keys),
            (query.ordered_key, self._ordered_keys),
            (query.ordered_key, self._reversed_keys),
        )
        for text, choices in comparisons:
            for _, score, index in process.extract(
                text, choices, scorer=fuzz.ratio, processor=None, limit=None, score_cutoff=cutoff
            ):
                if score > raw.get(index, -1.0):
                    raw[index] = score
        best: dict[int, tuple[float, str]] = {}
        # Names are indexed primary name first, so on a tie the primary name is the one reported.
        for index in sorted(raw):
            name = self._names[index]
            weighted = raw[index] / 100 * name.weight
            current = best.get(name.entry)
            if current is None or weighted > current[0]:
                best[name.entry] = (weighted, name.name)
        return best

    @staticmethod
    def _adjustments(
        entry: SanctionsEntry, births: tuple[_ListedBirth, ...], birth_date: date | None, country: str | None
    ) -> tuple[tuple[str, float], ...]:
        reasons: list[str] = []
        if birth_date is not None and births:
            if any(birth.day == birth_date for birth in births):
                reasons.append("birth_date_exact")
            elif any(birth.year == birth_date.year for birth in births):
                reasons.append("birth_year_match")
            elif all(abs(birth.year - birth_date.year) > 1 for birth in births):
                reasons.append("birth_date_mismatch")
        if country is not None and entry.nationalities:
            reasons.append("country_match" if country in entry.nationalities else "country_mismatch")
        return tuple((reason, SCORE_ADJUSTMENTS[reason]) for reason in reasons)


def _listed_births(entry: SanctionsEntry) -> tuple[_ListedBirth, ...]:
    births: list[_ListedBirth] = []
    for value in entry.birth_dates:
        day = date.fromisoformat(value) if len(value) > 4 else None
        births.append(_ListedBirth(int(value[:4]), day))
    return tuple(births)


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise RuleViolationError("country must be an ISO 3166-1 alpha-2 code", field="country", country=value)
    return code
