"""The clinical departments triage routes to, with their Chinese and English names.

The codes are stable: they appear in the labelled triage set, in predictions and in the doctor roster.
``emergency`` is never a department a consult is booked with: it is where a red flag sends the patient
(DOMAIN.md §7, RF1), in person, outside the online path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str


EMERGENCY = "emergency"
INTERNAL_MEDICINE = "internal_medicine"
PAEDIATRICS = "paediatrics"
OBSTETRICS_GYNAECOLOGY = "obstetrics_gynaecology"

DEPARTMENTS: tuple[Department, ...] = (
    Department(INTERNAL_MEDICINE, "普通内科", "General internal medicine"),
    Department(PAEDIATRICS, "儿科", "Paediatrics"),
    Department(OBSTETRICS_GYNAECOLOGY, "妇产科", "Obstetrics and gynaecology"),
    Department("dermatology", "皮肤科", "Dermatology"),
    Department("ent", "耳鼻喉科", "Ear, nose and throat"),
    Department("ophthalmology", "眼科", "Ophthalmology"),
    Department("gastroenterology", "消化内科", "Gastroenterology"),
    Department("respiratory", "呼吸内科", "Respiratory medicine"),
    Department("cardiology", "心血管内科", "Cardiology"),
    Department("endocrinology", "内分泌科", "Endocrinology"),
    Department("neurology", "神经内科", "Neurology"),
    Department("urology_andrology", "泌尿外科与男科", "Urology and andrology"),
    Department("orthopaedics_surgery", "骨科与外科", "Orthopaedics and surgery"),
    Department("psychiatry", "精神心理科", "Psychiatry and psychology"),
    Department(EMERGENCY, "急诊科", "Emergency department"),
)

BY_CODE: dict[str, Department] = {d.code: d for d in DEPARTMENTS}
CODES: tuple[str, ...] = tuple(d.code for d in DEPARTMENTS)
# Departments a consult can be booked with: every code except the emergency department.
CONSULT_CODES: tuple[str, ...] = tuple(c for c in CODES if c != EMERGENCY)


def department(code: str) -> Department:
    """The department with this code; ``KeyError`` names the unknown code."""
    try:
        return BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown department code {code!r}; known: {', '.join(CODES)}") from None
