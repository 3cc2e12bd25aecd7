"""Drug-interaction, allergy, duplicate-therapy and pregnancy checks behind one port (DOMAIN DDI1-DDI3).

There is no free authoritative source (DDI2), so ``InteractionSource`` is a Protocol: ``FixtureSource``
answers from the small table in ``data/interactions_fixture.json`` for tests and demos, and licensed
knowledge bases plug in as adapters. Whatever the source, the gate calls it through ``FailClosed``:
an error, a timeout (adapters raise ``TimeoutError``) or a malformed answer becomes an ``unchecked``
alert for a pharmacist, never a silent pass. Unknown drugs, medicines and allergy codes are unchecked
too.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import combinations
from typing import Any, Protocol


class Severity(enum.StrEnum):
    MINOR = "minor"
    MODERATE = "moderate"
    MAJOR = "major"
    CONTRAINDICATED = "contraindicated"
    UNKNOWN = "unknown"  # nothing could be said: treat as a hold


class AlertKind(enum.StrEnum):
    INTERACTION = "interaction"
    ALLERGY = "allergy"
    CROSS_SENSITIVITY = "cross_sensitivity"
    DUPLICATE_THERAPY = "duplicate_therapy"
    PREGNANCY = "pregnancy"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Drug:
    """A product being ordered, as a source sees it: a code (the product id), a name and its INNs."""

    code: str
    name: str
    ingredients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """One finding of a source. ``drug_codes`` are the ordered drugs involved; ``other`` names the rest
    (a current medicine, an allergy, the patient's pregnancy)."""

    severity: Severity
    kind: AlertKind
    evidence: str
    source: str
    version: str
    drug_codes: tuple[str, ...] = ()
    other: str = ""


class PatientFacts(Protocol):
    @property
    def age_years(self) -> int | None: ...

    @property
    def sex(self) -> str | None: ...

    @property
    def pregnant(self) -> bool: ...


class InteractionSource(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def check(
        self, drugs: Sequence[Drug], current_meds: Sequence[str], allergies: Sequence[str], patient: PatientFacts
    ) -> list[Alert]: ...


def same_inn(a: str, b: str) -> bool:
    """'warfarin sodium' is 'warfarin': a salt or ester suffix still names the same ingredient."""
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


def _norm(text: str) -> str:
    return " ".join(text.strip().lower().split())


@dataclass(frozen=True, slots=True)
class _Rule:
    a: str
    b: str
    severity: Severity
    effect: str


class FixtureSource:
    """Answers from a fixture table; see ``data/interactions_fixture.json`` for its shape."""

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data if data is not None else _packaged_fixture()
        self._name, self._version = str(data["source"]), str(data["version"])
        self._classes = {k: tuple(_norm(m) for m in v) for k, v in dict(data["classes"]).items()}
        self._rules = tuple(
            _Rule(_norm(r["a"]), _norm(r["b"]), Severity(r["severity"]), str(r["effect"])) for r in data["interactions"]
        )
        self._allergies = {
            _norm(code): (tuple(map(_norm, a["contraindicated"])), tuple(map(_norm, a["cross"])))
            for code, a in dict(data["allergies"]).items()
        }
        self._duplicate_classes = tuple(data["duplicate_classes"])
        self._pregnancy = tuple(
            (_norm(p["drug"]), Severity(p["severity"]), str(p["effect"])) for p in data["pregnancy"]
        )
        refs = [r.a for r in self._rules] + [r.b for r in self._rules] + [p[0] for p in self._pregnancy]
        refs += [ref for pair in self._allergies.values() for group in pair for ref in group]
        self._known = {m for ref in refs for m in self._members(ref)} | {_norm(k) for k in data["known"]}
        self._known |= {m for members in self._classes.values() for m in members}

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return self._version

    def _members(self, ref: str) -> tuple[str, ...]:
        return self._classes.get(ref[1:], ()) if ref.startswith("@") else (ref,)

    def _is(self, inns: Iterable[str], ref: str) -> bool:
        members = self._members(ref)
        return any(same_inn(inn, m) for inn in inns for m in members)

    def _knows(self, inn: str) -> bool:
        return any(same_inn(inn, k) for k in self._known)

    def _alert(
        self, severity: Severity, kind: AlertKind, evidence: str, codes: tuple[str, ...], other: str = ""
    ) -> Alert:
        return Alert(severity, kind, evidence, self._name, self._version, codes, other)

    def check(
        self, drugs: Sequence[Drug], current_meds: Sequence[str], allergies: Sequence[str], patient: PatientFacts
    ) -> list[Alert]:
        out: list[Alert] = []
        meds = [_norm(m) for m in current_meds if m.strip()]
        inns = {d.code: tuple(_norm(i) for i in d.ingredients) for d in drugs}
        unchecked = AlertKind.UNCHECKED
        for d in drugs:
            unknown = [i for i in inns[d.code] if not self._knows(i)] if inns[d.code] else ["(no ingredients listed)"]
            if unknown:
                text = f"{d.name}: {', '.join(unknown)} not covered by {self._name} {self._version}"
                out.append(self._alert(Severity.UNKNOWN, unchecked, text, (d.code,)))
        for med in meds:
            if not self._knows(med):
                text = f"current medicine {med!r} is not covered by {self._name} {self._version}"
                out.append(self._alert(Severity.UNKNOWN, unchecked, text, (), med))
        for code in map(_norm, allergies):
            if code and code not in self._allergies and not self._knows(code):
                text = f"allergy {code!r} is not a code {self._name} {self._version} knows"
                out.append(self._alert(Severity.UNKNOWN, unchecked, text, (), code))

        for x, y in combinations(drugs, 2):
            out.extend(self._pair(inns[x.code], inns[y.code], f"{x.name} + {y.name}", (x.code, y.code), ""))
        for d in drugs:
            for med in meds:
                out.extend(self._pair(inns[d.code], (med,), f"{d.name} + current {med}", (d.code,), med))
        for d in drugs:
            out.extend(self._allergy_alerts(d, inns[d.code], allergies))
            if patient.pregnant:
                for ref, severity, effect in self._pregnancy:
                    if self._is(inns[d.code], ref):
                        out.append(
                            self._alert(severity, AlertKind.PREGNANCY, f"{d.name}: {effect}", (d.code,), "pregnancy")
                        )
        return out

    def _pair(
        self, a: tuple[str, ...], b: tuple[str, ...], label: str, codes: tuple[str, ...], other: str
    ) -> list[Alert]:
        out = [
            self._alert(r.severity, AlertKind.INTERACTION, f"{label}: {r.effect}", codes, other)
            for r in self._rules
            if (self._is(a, r.a) and self._is(b, r.b)) or (self._is(a, r.b) and self._is(b, r.a))
        ]
        shared = sorted({i for i in a for j in b if same_inn(i, j)})
        classes = [c for c in self._duplicate_classes if self._is(a, "@" + c) and self._is(b, "@" + c)]
        if shared or classes:
            what = ", ".join(shared + [f"two {c.replace('_', ' ')}s" for c in classes])
            out.append(self._alert(Severity.MODERATE, AlertKind.DUPLICATE_THERAPY, f"{label}: {what}", codes, other))
        return out

    def _allergy_alerts(self, d: Drug, inns: tuple[str, ...], allergies: Sequence[str]) -> list[Alert]:
        out: list[Alert] = []
        for code in map(_norm, allergies):
            contra, cross = self._allergies.get(code, ((code,), ()))
            if any(self._is(inns, ref) for ref in contra):
                text = f"{d.name}: the patient is allergic to {code}"
                out.append(self._alert(Severity.CONTRAINDICATED, AlertKind.ALLERGY, text, (d.code,), code))
            elif any(self._is(inns, ref) for ref in cross):
                text = f"{d.name}: cross-sensitivity with the patient's {code} allergy"
                out.append(self._alert(Severity.MODERATE, AlertKind.CROSS_SENSITIVITY, text, (d.code,), code))
        return out


@lru_cache(maxsize=1)
def _packaged_fixture() -> Mapping[str, Any]:
    text = resources.files("yaodao.ordering").joinpath("data", "interactions_fixture.json").read_text(encoding="utf-8")
    data: Mapping[str, Any] = json.loads(text)
    return data


class FailClosed:
    """Wraps a source so that any failure is an ``unchecked`` alert held for a pharmacist (DDI3, API10)."""

    def __init__(self, inner: InteractionSource) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._safe(lambda: self._inner.name)

    @property
    def version(self) -> str:
        return self._safe(lambda: self._inner.version)

    @staticmethod
    def _safe(read: Callable[[], object]) -> str:
        try:
            return str(read())
        except Exception:  # a broken adapter must not break the gate
            return "unavailable"

    def check(
        self, drugs: Sequence[Drug], current_meds: Sequence[str], allergies: Sequence[str], patient: PatientFacts
    ) -> list[Alert]:
        try:
            alerts = self._inner.check(drugs, current_meds, allergies, patient)
            if isinstance(alerts, list) and all(isinstance(a, Alert) for a in alerts):
                return alerts
            problem = f"answered with {type(alerts).__name__}, not a list of alerts"
        except Exception as exc:  # any failure, a timeout included, fails closed
            problem = f"failed: {type(exc).__name__}"
        codes = tuple(d.code for d in drugs)
        evidence = f"interaction source {self.name} {problem}; nothing was checked"
        return [Alert(Severity.UNKNOWN, AlertKind.UNCHECKED, evidence, self.name, self.version, codes)]
