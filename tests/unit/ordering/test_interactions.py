"""DOMAIN DDI1-DDI3: the fixture interaction source, and failing closed whatever the source does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from yaodao.ordering.interactions import (
    Alert,
    AlertKind,
    Drug,
    FailClosed,
    FixtureSource,
    InteractionSource,
    PatientFacts,
    Severity,
)

SOURCE = FixtureSource()
IBUPROFEN = Drug("pr-ibu", "布洛芬缓释胶囊", ("ibuprofen",))
AMOXICILLIN = Drug("pr-amox", "阿莫西林胶囊", ("amoxicillin",))
CEFALEXIN = Drug("pr-cef", "头孢氨苄胶囊", ("cefalexin",))
GANMAOLING = Drug("pr-gml", "感冒灵颗粒", ("paracetamol", "caffeine", "chlorphenamine"))
TYLENOL_COLD = Drug(
    "pr-tyl", "氨酚伪麻美芬片", ("paracetamol", "pseudoephedrine", "dextromethorphan", "chlorphenamine")
)
LORATADINE = Drug("pr-lor", "氯雷他定片", ("loratadine",))


@dataclass(frozen=True)
class Facts:
    age_years: int | None = 35
    sex: str | None = "f"
    pregnant: bool = False


def check(
    drugs: Sequence[Drug], meds: Sequence[str] = (), allergies: Sequence[str] = (), **facts: object
) -> list[Alert]:
    return SOURCE.check(drugs, meds, allergies, Facts(**facts))  # type: ignore[arg-type]


def kinds(alerts: list[Alert]) -> list[tuple[AlertKind, Severity]]:
    return [(a.kind, a.severity) for a in alerts]


def test_ddi3_warfarin_in_current_medicines_and_ibuprofen_is_a_major_bleeding_alert() -> None:
    """DDI3: on warfarin + ibuprofen -> major, bleeding -> hold."""
    alerts = check([IBUPROFEN], meds=["warfarin"])
    assert kinds(alerts) == [(AlertKind.INTERACTION, Severity.MAJOR)]
    assert "bleeding" in alerts[0].evidence
    assert alerts[0].drug_codes == ("pr-ibu",)
    assert alerts[0].other == "warfarin"
    assert (alerts[0].source, alerts[0].version) == ("yaodao-fixture", "2025.1")


def test_ddi3_penicillin_allergy_and_amoxicillin_is_contraindicated() -> None:
    """DDI3: penicillin allergy + amoxicillin -> contraindicated -> hold."""
    assert kinds(check([AMOXICILLIN], allergies=["penicillin"])) == [(AlertKind.ALLERGY, Severity.CONTRAINDICATED)]


def test_ddi3_penicillin_allergy_and_cefalexin_is_a_cross_sensitivity() -> None:
    """DDI3/DDI1: penicillin allergy + cefalexin -> cross-sensitivity (penicillins <-> cephalosporins) -> hold."""
    assert kinds(check([CEFALEXIN], allergies=["Penicillin"])) == [(AlertKind.CROSS_SENSITIVITY, Severity.MODERATE)]


def test_ddi3_two_paracetamol_containing_cold_products_are_duplicate_therapy() -> None:
    """DDI3: two paracetamol products -> duplicate therapy; the shared sedating antihistamine is named too."""
    alerts = check([GANMAOLING, TYLENOL_COLD])
    assert kinds(alerts) == [(AlertKind.DUPLICATE_THERAPY, Severity.MODERATE)]
    assert "paracetamol" in alerts[0].evidence
    assert alerts[0].drug_codes == ("pr-gml", "pr-tyl")


def test_ddi3_an_unknown_drug_code_is_unchecked() -> None:
    """DDI3: an ingredient the source does not know -> unchecked -> hold (fail closed)."""
    mystery = Drug("pr-x", "某中成药", ("licorice root", "paracetamol"))
    alerts = check([mystery])
    assert kinds(alerts) == [(AlertKind.UNCHECKED, Severity.UNKNOWN)]
    assert "licorice root" in alerts[0].evidence


def test_ddi3_a_single_otc_with_no_history_passes() -> None:
    """DDI3: single OTC, no medicines, no allergies -> no alert."""
    assert check([LORATADINE]) == []
    assert check([IBUPROFEN]) == []


@pytest.mark.parametrize(
    ("drugs", "meds", "severity", "word"),
    [
        ([Drug("p", "硝酸甘油片", ("glyceryl trinitrate",))], ["sildenafil"], Severity.CONTRAINDICATED, "hypotension"),
        ([Drug("p", "克拉霉素片", ("clarithromycin",))], ["simvastatin"], Severity.CONTRAINDICATED, "rhabdomyolysis"),
        ([Drug("p", "克拉霉素片", ("clarithromycin",))], ["domperidone"], Severity.CONTRAINDICATED, "QT"),
        ([Drug("p", "右美沙芬片", ("dextromethorphan",))], ["sertraline"], Severity.MAJOR, "serotonin"),
        ([Drug("p", "氯化钾缓释片", ("potassium chloride",))], ["enalapril"], Severity.MAJOR, "hyperkalaemia"),
        ([Drug("p", "甲硝唑片", ("metronidazole",))], ["warfarin sodium"], Severity.MAJOR, "INR"),
        ([Drug("p", "奥美拉唑肠溶胶囊", ("omeprazole",))], ["clopidogrel"], Severity.MODERATE, "CYP2C19"),
        ([Drug("p", "铝碳酸镁咀嚼片", ("hydrotalcite",))], ["levofloxacin"], Severity.MODERATE, "absorption"),
    ],
)
def test_ddi1_more_well_known_pairs_are_caught_in_either_order(
    drugs: list[Drug], meds: list[str], severity: Severity, word: str
) -> None:
    """DDI1: interactions with the patient's current medicines, whichever side of the pair the order is on."""
    alerts = [a for a in check(drugs, meds=meds) if a.kind is AlertKind.INTERACTION]
    assert [a.severity for a in alerts] == [severity]
    assert word in alerts[0].evidence
    as_order = [Drug("q", m, (m,)) for m in meds]
    both = [a for a in check([*as_order, *drugs]) if a.kind is AlertKind.INTERACTION]
    assert [a.severity for a in both] == [severity]


def test_ddi1_an_ibuprofen_for_someone_already_taking_ibuprofen_is_duplicate_therapy() -> None:
    """DDI1: duplicates are checked against current medicines as well as within the order."""
    assert kinds(check([IBUPROFEN], meds=["ibuprofen"])) == [(AlertKind.DUPLICATE_THERAPY, Severity.MODERATE)]
    assert kinds(check([IBUPROFEN], meds=["diclofenac"])) == [(AlertKind.DUPLICATE_THERAPY, Severity.MODERATE)]


def test_ddi1_pregnancy_is_checked() -> None:
    """DDI1: a statin for a pregnant patient is contraindicated; the same order for someone not pregnant passes."""
    atorvastatin = Drug("pr-ator", "阿托伐他汀钙片", ("atorvastatin",))
    assert kinds(check([atorvastatin], pregnant=True)) == [(AlertKind.PREGNANCY, Severity.CONTRAINDICATED)]
    assert check([atorvastatin], pregnant=False) == []


def test_ddi1_an_allergy_may_be_coded_as_an_ingredient() -> None:
    """An allergy to one INN matches products containing it."""
    assert kinds(check([GANMAOLING], allergies=["paracetamol"])) == [(AlertKind.ALLERGY, Severity.CONTRAINDICATED)]


def test_ddi3_unknown_medicines_and_allergy_codes_are_unchecked_not_ignored() -> None:
    """Fail closed: what the source cannot read is held, never passed."""
    alerts = check([LORATADINE], meds=["某降压药"], allergies=["seafood"])
    assert kinds(alerts) == [(AlertKind.UNCHECKED, Severity.UNKNOWN)] * 2
    assert {a.other for a in alerts} == {"某降压药", "seafood"}


def test_a_drug_with_no_listed_ingredients_is_unchecked() -> None:
    """Nothing known about it means nothing checked."""
    assert kinds(check([Drug("pr-y", "某药", ())])) == [(AlertKind.UNCHECKED, Severity.UNKNOWN)]


class Broken:
    name, version = "licensed-kb", "7"

    def __init__(self, failure: BaseException | None = None, answer: object = None) -> None:
        self.failure, self.answer = failure, answer

    def check(
        self, drugs: Sequence[Drug], current_meds: Sequence[str], allergies: Sequence[str], patient: PatientFacts
    ) -> list[Alert]:
        if self.failure is not None:
            raise self.failure
        return self.answer  # type: ignore[return-value]


@pytest.mark.parametrize(
    "source",
    [
        Broken(TimeoutError("read timed out")),
        Broken(ConnectionError("refused")),
        Broken(KeyError("drug")),
        Broken(answer=None),
        Broken(answer=[{"severity": "minor"}]),
    ],
    ids=["timeout", "down", "bug", "no-answer", "malformed"],
)
def test_ddi3_a_failing_source_fails_closed_with_an_unchecked_alert(source: InteractionSource) -> None:
    """DDI3 / API10: error, timeout or a malformed answer -> one unchecked alert naming every drug."""
    alerts = FailClosed(source).check([IBUPROFEN, LORATADINE], [], [], Facts())
    assert kinds(alerts) == [(AlertKind.UNCHECKED, Severity.UNKNOWN)]
    assert alerts[0].drug_codes == ("pr-ibu", "pr-lor")
    assert (alerts[0].source, alerts[0].version) == ("licensed-kb", "7")


def test_a_healthy_source_passes_through_fail_closed_unchanged() -> None:
    """The wrapper adds nothing when the source answers properly."""
    assert FailClosed(SOURCE).check([IBUPROFEN], ["warfarin"], [], Facts()) == check([IBUPROFEN], meds=["warfarin"])
    assert FailClosed(SOURCE).check([LORATADINE], [], [], Facts()) == []
