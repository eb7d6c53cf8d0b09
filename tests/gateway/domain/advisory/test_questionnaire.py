from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gateway.domain.advisory.errors import InvalidAnswersError
from gateway.domain.advisory.questionnaire import (
    QUESTIONNAIRE_VERSION,
    QUESTIONNAIRES,
    Band,
    Questionnaire,
    RiskAssessment,
    questionnaire,
    score,
)
from gateway.domain.compliance.suitability import RiskLevel
from gateway.domain.errors import RuleViolationError

# Worked answers, totalled by hand from the option points (the comment is the points of each answer).
WORKED: dict[RiskLevel, tuple[int, dict[str, str]]] = {
    # 3 + 1 + 1 + 1 + 2 + 0 + 1 + 0 + 1 + 0
    RiskLevel.C1: (
        10,
        {
            "horizon": "1_3y",
            "age_band": "60_69",
            "income_stability": "irregular",
            "assets_share": "50_75",
            "loss_tolerance": "up_to_5",
            "drop_reaction": "sell_all",
            "experience": "deposits_mmf",
            "objective": "preserve",
            "liquidity_needs": "half",
            "derivatives_knowledge": "none",
        },
    ),
    # 5 + 2 + 3 + 2 + 2 + 3 + 1 + 3 + 3 + 0
    RiskLevel.C2: (
        24,
        {
            "horizon": "3_5y",
            "age_band": "50_59",
            "income_stability": "stable",
            "assets_share": "25_50",
            "loss_tolerance": "up_to_5",
            "drop_reaction": "sell_some",
            "experience": "deposits_mmf",
            "objective": "income",
            "liquidity_needs": "some",
            "derivatives_knowledge": "none",
        },
    ),
    # 8 + 3 + 3 + 2 + 4 + 3 + 2 + 5 + 3 + 1
    RiskLevel.C3: (
        34,
        {
            "horizon": "5_10y",
            "age_band": "35_49",
            "income_stability": "stable",
            "assets_share": "25_50",
            "loss_tolerance": "5_to_15",
            "drop_reaction": "sell_some",
            "experience": "bond_funds",
            "objective": "balanced",
            "liquidity_needs": "some",
            "derivatives_knowledge": "basic",
        },
    ),
    # 8 + 3 + 3 + 3 + 6 + 6 + 3 + 8 + 3 + 1
    RiskLevel.C4: (
        44,
        {
            "horizon": "5_10y",
            "age_band": "35_49",
            "income_stability": "stable",
            "assets_share": "10_25",
            "loss_tolerance": "15_to_30",
            "drop_reaction": "hold",
            "experience": "equity",
            "objective": "growth",
            "liquidity_needs": "some",
            "derivatives_knowledge": "basic",
        },
    ),
    # every answer at its maximum: 10 + 4 + 4 + 4 + 8 + 8 + 4 + 10 + 4 + 4
    RiskLevel.C5: (
        60,
        {
            "horizon": "over_10y",
            "age_band": "18_34",
            "income_stability": "stable_growing",
            "assets_share": "under_10",
            "loss_tolerance": "over_30",
            "drop_reaction": "buy_more",
            "experience": "derivatives",
            "objective": "aggressive",
            "liquidity_needs": "none",
            "derivatives_knowledge": "professional",
        },
    ),
}
MOST_AGGRESSIVE = WORKED[RiskLevel.C5][1]


@pytest.mark.parametrize("level", list(RiskLevel))
def test_worked_answers_score_to_each_level(level: RiskLevel) -> None:
    total, answers = WORKED[level]
    assessment = score(answers, QUESTIONNAIRE_VERSION)
    assert assessment.total == total
    assert assessment.risk_level is level
    assert assessment.uncapped_level is level
    assert assessment.knockouts == ()
    assert assessment.version == "RQ-2026-11"
    assert sum(assessment.points.values()) == total
    assert list(assessment.points) == [q.id for q in questionnaire().questions]


@pytest.mark.parametrize(
    ("changes", "total", "level"),
    [
        ({"liquidity_needs": "some"}, 12, RiskLevel.C1),  # top of C1
        ({"liquidity_needs": "some", "derivatives_knowledge": "basic"}, 13, RiskLevel.C2),
        ({}, 10, RiskLevel.C1),
    ],
)
def test_band_edges_from_c1(changes: dict[str, str], total: int, level: RiskLevel) -> None:
    assessment = score({**WORKED[RiskLevel.C1][1], **changes})
    assert (assessment.total, assessment.risk_level) == (total, level)


def test_band_edges_c2_c3_c4_c5() -> None:
    c2 = WORKED[RiskLevel.C2][1]
    assert score(c2).total == 24
    assert score({**c2, "derivatives_knowledge": "basic"}).risk_level is RiskLevel.C3  # 25
    c4 = WORKED[RiskLevel.C4][1]
    assert score({**c4, "income_stability": "stable_growing", "assets_share": "under_10"}).total == 46
    edge = {**c4, "drop_reaction": "buy_more", "age_band": "18_34", "income_stability": "stable_growing"}
    assert (score(edge).total, score(edge).risk_level) == (48, RiskLevel.C4)
    above = {**edge, "assets_share": "under_10"}
    assert (score(above).total, score(above).risk_level) == (49, RiskLevel.C5)


def test_bands_are_published_with_the_assessment() -> None:
    assessment = score(WORKED[RiskLevel.C3][1])
    assert assessment.bands == (
        Band(RiskLevel.C1, 0, 12),
        Band(RiskLevel.C2, 13, 24),
        Band(RiskLevel.C3, 25, 36),
        Band(RiskLevel.C4, 37, 48),
        Band(RiskLevel.C5, 49, 60),
    )


def test_knockout_no_loss_caps_at_c1() -> None:
    assessment = score({**MOST_AGGRESSIVE, "loss_tolerance": "none"})
    assert assessment.total == 52
    assert assessment.uncapped_level is RiskLevel.C5
    assert assessment.risk_level is RiskLevel.C1
    assert [k.rule for k in assessment.knockouts] == ["RQ-KO-1"]


def test_knockout_short_horizon_caps_at_c2() -> None:
    assessment = score({**MOST_AGGRESSIVE, "horizon": "under_1y"})
    assert (assessment.total, assessment.uncapped_level) == (50, RiskLevel.C5)
    assert assessment.risk_level is RiskLevel.C2
    assert [k.rule for k in assessment.knockouts] == ["RQ-KO-2"]


def test_knockout_liquidity_caps_at_c2() -> None:
    assessment = score({**MOST_AGGRESSIVE, "liquidity_needs": "most"})
    assert assessment.risk_level is RiskLevel.C2
    assert [k.rule for k in assessment.knockouts] == ["RQ-KO-3"]


def test_the_lowest_cap_wins_when_several_knockouts_apply() -> None:
    assessment = score({**MOST_AGGRESSIVE, "horizon": "under_1y", "loss_tolerance": "none"})
    assert assessment.risk_level is RiskLevel.C1
    assert {k.rule for k in assessment.knockouts} == {"RQ-KO-1", "RQ-KO-2"}


def test_a_knockout_never_raises_the_level() -> None:
    assessment = score({**WORKED[RiskLevel.C1][1], "horizon": "under_1y"})
    assert assessment.total == 7
    assert assessment.risk_level is RiskLevel.C1
    assert [k.rule for k in assessment.knockouts] == ["RQ-KO-2"]


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(InvalidAnswersError, match="version") as caught:
        score(WORKED[RiskLevel.C3][1], "RQ-1999-01")
    assert caught.value.context["field"] == "version"
    assert isinstance(caught.value, RuleViolationError)


def test_an_unknown_question_is_refused_and_named() -> None:
    with pytest.raises(InvalidAnswersError) as caught:
        score({**WORKED[RiskLevel.C3][1], "favourite_colour": "blue"})
    assert caught.value.context["field"] == "answers.favourite_colour"


def test_a_missing_answer_is_refused_and_named() -> None:
    answers = dict(WORKED[RiskLevel.C3][1])
    del answers["objective"]
    with pytest.raises(InvalidAnswersError, match="objective") as caught:
        score(answers)
    assert caught.value.context["field"] == "answers.objective"
    assert caught.value.context["missing"] == ["objective"]


def test_an_unknown_option_is_refused_and_named() -> None:
    with pytest.raises(InvalidAnswersError) as caught:
        score({**WORKED[RiskLevel.C3][1], "horizon": "forever"})
    assert caught.value.context["field"] == "answers.horizon"
    options = caught.value.context["options"]
    assert isinstance(options, list)
    assert "over_10y" in options


def test_an_answer_that_is_not_a_string_is_refused() -> None:
    answers: dict[str, object] = {**WORKED[RiskLevel.C3][1], "horizon": 5}
    with pytest.raises(InvalidAnswersError) as caught:
        score(answers)  # type: ignore[arg-type]
    assert caught.value.context["field"] == "answers.horizon"


def test_the_published_questionnaire_has_ten_questions_with_options() -> None:
    published = questionnaire().to_document()
    json.dumps(published)  # JSON-ready as it is
    assert published["version"] == QUESTIONNAIRE_VERSION
    assert published["max_total"] == 60
    questions = published["questions"]
    assert isinstance(questions, list)
    assert [q["id"] for q in questions] == [
        "horizon",
        "age_band",
        "income_stability",
        "assets_share",
        "loss_tolerance",
        "drop_reaction",
        "experience",
        "objective",
        "liquidity_needs",
        "derivatives_knowledge",
    ]
    for question in questions:
        assert question["text"].endswith("?")
        option_ids = [o["id"] for o in question["options"]]
        assert len(option_ids) == len(set(option_ids)) >= 4
        assert all(o["text"] and isinstance(o["points"], int) for o in question["options"])
    knockouts = published["knockouts"]
    assert isinstance(knockouts, list)
    assert [k["rule"] for k in knockouts] == ["RQ-KO-1", "RQ-KO-2", "RQ-KO-3"]


def test_every_version_is_published() -> None:
    assert QUESTIONNAIRE_VERSION in QUESTIONNAIRES
    assert questionnaire() is QUESTIONNAIRES[QUESTIONNAIRE_VERSION]


def test_bands_must_cover_every_total_without_gaps() -> None:
    source = questionnaire()
    gap = (Band(RiskLevel.C1, 0, 12), Band(RiskLevel.C2, 14, 24), *source.bands[2:])
    with pytest.raises(ValueError, match="band"):
        replace(source, bands=gap)
    short = (*source.bands[:4], Band(RiskLevel.C5, 49, 59))
    with pytest.raises(ValueError, match="end"):
        replace(source, bands=short)


def test_a_knockout_must_name_a_real_option() -> None:
    source = questionnaire()
    broken = replace(source.knockouts[0], option_id="nothing")
    with pytest.raises(ValueError, match="knockout"):
        Questionnaire(source.version, source.questions, source.bands, (broken,))


def test_risk_assessment_document_round_trip() -> None:
    assessment = score({**MOST_AGGRESSIVE, "horizon": "under_1y"})
    document = json.loads(json.dumps(assessment.to_document()))
    assert document["risk_level"] == "C2"
    assert RiskAssessment.from_document(document) == assessment


def test_a_broken_risk_assessment_document_is_refused() -> None:
    document = score(MOST_AGGRESSIVE).to_document()
    with pytest.raises(InvalidAnswersError) as caught:
        RiskAssessment.from_document({**document, "risk_level": "C9"})
    assert caught.value.context["field"] == "document"
