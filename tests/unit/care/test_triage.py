"""Intake triage: red flags stop the online path (RF1, I19), departments follow the evidence, D1 and D5 hold."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yaodao.care.departments import CODES, CONSULT_CODES, EMERGENCY
from yaodao.care.triage import Intake, Triage, TriageParams, triage
from yaodao.kernel.errors import ValidationFailed
from yaodao.safety.redflags import CALL_120, CRISIS_LINE, detect_red_flags


def run(text: str, age: float | None = 35, sex: str = "u", **form: object) -> Triage:
    return triage(Intake(text, age, sex, **form))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "age", "code"),
    [
        ("胸口疼，出了一身冷汗，左边胳膊也麻", 58, "chest_pain"),
        ("pressure in my chest for 20 minutes, feels like someone sitting on me", 59, "chest_pain"),
        ("哮喘发作，喷了药也不管用，话都说不完整", 25, "breathing"),
        ("my dad is breathing very hard and his lips look grey", 80, "breathing"),
        ("奶奶怎么叫都没反应", 86, "unconscious"),
        ("外公今天突然糊涂了，答非所问", 84, "confusion"),
        ("宝宝高烧抽筋了，眼睛往上翻", 1.5, "seizure"),
        ("突然一边手脚没力气，走路往一边倒", 60, "stroke"),
        ("woke up and half my face won't move, and my speech is weird", 52, "stroke"),
        ("nosebleed for 40 minutes and it won't stop", 50, "bleeding"),
        ("吃了腰果以后嘴巴和舌头都肿起来了", 16, "anaphylaxis"),
        ("厨房着火，手和脸都烧伤了", 45, "burn"),
        ("从两米高的架子上摔下来，背疼，腿麻", 40, "head_injury_trauma"),
        ("孩子发烧，身上有出血点，压了不褪色", 4, "sick_child"),
        ("肚子疼得直不起身来，已经吐了好几次", 38, "abdominal_pain_severe"),
        ("i dont see the point anymore, thinking about ending it", 28, "suicide"),
        ("孩子把我的降压药吃了好几片", 3, "overdose"),
        ("took 30 paracetamol on purpose", 19, "overdose"),
        ("家里煤气泄漏，两个人都头晕恶心", 40, "poisoning"),
    ],
)
def test_every_red_flag_kind_stops_the_online_path(text: str, age: float, code: str) -> None:
    """RF1: an intake describing an emergency routes to the emergency department, urgently, with the flag named."""
    result = run(text, age)
    assert code in result.red_flags
    assert (result.department, result.urgency) == (EMERGENCY, "emergency")
    assert not result.follow_up_eligible
    assert len(result.red_flag_evidence) == len(result.red_flags)


@pytest.mark.parametrize(
    "text",
    [
        "my dad had a stroke last year, now needs his blood pressure pills",
        "有点抑郁，不过没有想伤害自己的念头",
        "胸痛 没有发烧",
        "想自杀",
        "宝宝2个月发烧",
        "眼皮老抽搐",
    ],
)
def test_the_triage_never_drops_a_flag_the_shared_gate_raised(text: str) -> None:
    """RF1: a model or rule may add red flags to the gate's, never remove them (even a likely false alarm)."""
    gate = {flag.code for flag in detect_red_flags(text)}
    assert gate
    assert gate <= set(run(text).red_flags)


_FRAGMENTS = ["胸口疼", "没有", "发烧", "宝宝", "出冷汗", "咳嗽", "不想活了", "chest pain", "no", "baby", "fever",
              "去年", "中风", "头晕", "吃了", "一瓶", "安眠药", "，", " ", "can't breathe", "胃疼", "38.5"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=8), st.floats(0, 100))
def test_any_intake_keeps_every_gate_flag_and_a_flag_always_means_emergency(parts: list[str], age: float) -> None:
    """I19: for any text, the gate's flags survive, and the department is emergency exactly when a flag is raised."""
    text = "".join(parts)
    if not text.strip():
        return
    result = triage(Intake(text, age))
    assert {f.code for f in detect_red_flags(text)} <= set(result.red_flags)
    assert (result.department == EMERGENCY) == bool(result.red_flags)
    assert result.department in CODES


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("宝宝发烧了，有点烫", 0.17),
        ("my 6 week old has a temperature of 38.3", None),
        ("宝宝出生45天，发烧38.2度", None),
        ("baby feels hot, 38.1 under the arm", 0.15),
        ("孩子发热，还在吃奶", 0.08),
    ],
)
def test_a_fever_under_three_months_is_a_red_flag(text: str, age: float | None) -> None:
    """A fever before 3 months (by the form's age or the text's) calls for emergency care."""
    assert "infant_fever" in run(text, age).red_flags


@pytest.mark.parametrize(
    ("text", "age"),
    [("6个月宝宝第一次发烧，38度", 0.5), ("2个月宝宝鼻塞，呼呼的响，没有发烧", 0.17), ("2个月宝宝体温37.6", 0.17)],
)
def test_an_older_baby_or_no_fever_is_not_an_infant_fever_flag(text: str, age: float) -> None:
    """Over 3 months, or without fever (negated, or below 38.0 °C), the baby sees paediatrics."""
    result = run(text, age)
    assert result.red_flags == ()
    assert result.department == "paediatrics"


def test_a_young_baby_with_fever_over_three_months_is_urgent() -> None:
    """Between 3 and 6 months a fever is not a red flag but should be seen the same day."""
    assert run("宝宝发烧38.2", 0.4).urgency == "urgent"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("没有胸痛，就是胃里烧得慌，反酸水", "gastroenterology"),
        ("no chest pain, just burning in my stomach after spicy food", "gastroenterology"),
        ("胸闷了一下现在好了，以前没这样过", "cardiology"),
        ("荨麻疹反复三个月了，没有呼吸困难，嘴唇也不肿", "dermatology"),
        ("fell off my bike, scraped my knee and elbow, didn't hit my head", "orthopaedics_surgery"),
    ],
)
def test_negations_and_look_alikes_stay_on_the_online_path(text: str, department: str) -> None:
    """没有胸痛 is not chest pain, and a passing 胸闷 is not a heart attack: the department comes from the rest."""
    result = run(text)
    assert result.red_flags == ()
    assert result.department == department


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("感冒三天了，流鼻涕，有点低烧", "internal_medicine"),
        ("月经推迟了十天，验孕是阴性", "obstetrics_gynaecology"),
        ("脸上长了很多痘痘，反反复复", "dermatology"),
        ("耳鸣，晚上安静的时候特别明显", "ent"),
        ("my eye is red and itchy, think it's pink eye", "ophthalmology"),
        ("I get heartburn every night after dinner", "gastroenterology"),
        ("cough for three weeks, worse at night, no fever", "respiratory"),
        ("高血压好几年了，一直吃氨氯地平，想复诊开药", "cardiology"),
        ("空腹血糖7.2，是不是糖尿病", "endocrinology"),
        ("偏头痛又犯了，一边头跳着疼，怕光", "neurology"),
        ("burning when I pee", "urology_andrology"),
        ("knee pain when climbing stairs", "orthopaedics_surgery"),
        ("最近心情很低落，什么都不想做，已经一个多月了", "psychiatry"),
        ("頭暈頭痛好幾天", "neurology"),
        ("diarhea for two days", "gastroenterology"),
        ("ganmao le, fashao 38 du", "internal_medicine"),
        ("xueyagao, 想开降压药", "cardiology"),
    ],
)
def test_an_adult_complaint_goes_to_the_department_of_its_evidence(text: str, department: str) -> None:
    """Chinese, English, Traditional characters, typos and pinyin all count as evidence."""
    assert run(text).department == department


def test_a_child_under_fourteen_sees_paediatrics_for_a_general_complaint() -> None:
    """The same cough goes to respiratory for an adult and to paediatrics for a 5-year-old."""
    text = "咳嗽一个星期了，晚上咳得厉害"
    assert run(text, 40).department == "respiratory"
    assert run(text, 5).department == "paediatrics"
    assert triage(Intake(text, 5), TriageParams(paediatric_max_age=3)).department == "respiratory"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("孩子看黑板看不清，老眯眼睛", "ophthalmology"),
        ("孩子摔了一跤，手腕肿了，还能动", "orthopaedics_surgery"),
        ("孩子包皮红肿，尿尿的时候哭", "urology_andrology"),
    ],
)
def test_a_child_keeps_a_specialist_complaint_with_its_specialty(text: str, department: str) -> None:
    """Eyes, injuries and genitals stay with their department for children (phrases tagged keep)."""
    assert run(text, 8).department == department


def test_a_pregnancy_takes_general_complaints_to_obstetrics() -> None:
    """A cold goes to internal medicine, unless the patient is pregnant (by the form or in the text)."""
    assert run("感冒了，鼻塞流鼻涕，能吃什么药", 27, "f").department == "internal_medicine"
    assert run("感冒了，鼻塞流鼻涕，能吃什么药", 27, "f", pregnant=True).department == "obstetrics_gynaecology"
    assert run("怀孕5个月，感冒咳嗽", 27, "f").department == "obstetrics_gynaecology"


def test_genital_complaints_follow_the_patients_sex() -> None:
    """下面痒 is gynaecology for a woman and andrology for a man."""
    assert run("下面痒", 30, "f").department == "obstetrics_gynaecology"
    assert run("下面痒", 30, "m").department == "urology_andrology"


def test_a_condition_in_the_past_counts_less_than_the_present_complaint() -> None:
    """去年骨折过 is history: the cough that brings the patient today decides."""
    assert run("去年骨折过，现在一直咳嗽，有痰").department == "respiratory"
    assert run("感冒好了，但是咳嗽一直不好").department == "respiratory"


def test_a_condition_a_doctor_named_outweighs_a_body_part() -> None:
    """脚踝肿 alone is orthopaedics; with 医生说是心衰 it is cardiology."""
    assert run("脚踝有点肿").department == "orthopaedics_surgery"
    assert run("脚踝有点肿，医生说是心衰，要复诊").department == "cardiology"


def test_current_medicines_are_evidence_when_the_text_names_no_condition() -> None:
    """A refill request says little; amlodipine on the form points to cardiology."""
    assert run("想复诊开药").department == "internal_medicine"
    assert run("想复诊开药", current_meds=("氨氯地平",)).department == "cardiology"


def test_an_allergen_on_the_form_named_in_the_text_with_swelling_is_anaphylaxis() -> None:
    """A penicillin allergy makes amoxicillin followed by a swelling face a severe allergic reaction."""
    text = "刚吃了阿莫西林，现在脸肿了"
    assert "anaphylaxis" in run(text, allergies=("青霉素",)).red_flags


def test_follow_up_needs_a_prior_diagnosis_and_no_red_flag() -> None:
    """D1: online care is for a condition diagnosed in person; a red flag ends the online path."""
    diagnosed = run("糖尿病十年了，二甲双胍吃完了", diagnosed_before=True)
    assert diagnosed.follow_up_eligible
    assert "复诊" in diagnosed.advice_zh
    first_visit = run("糖尿病十年了，二甲双胍吃完了")
    assert not first_visit.follow_up_eligible
    assert "面诊" in first_visit.advice_zh
    assert not run("糖尿病，现在胸口疼出冷汗", diagnosed_before=True).follow_up_eligible


def test_a_child_under_six_needs_a_guardian_for_an_online_prescription() -> None:
    """D5: age below 6 requires a guardian record."""
    assert run("孩子咳嗽", 4).guardian_required
    assert "监护人" in run("孩子咳嗽", 4).advice_zh
    assert not run("孩子咳嗽", 8).guardian_required


def test_emergency_advice_says_call_120_and_suicidal_ideation_adds_the_crisis_line() -> None:
    """RF1: the emergency number for every flag; suicidal ideation gets the crisis line."""
    chest = run("胸口疼，出冷汗")
    assert chest.guidance == CALL_120
    assert "120" in chest.advice_zh
    assert "120" in chest.advice_en
    crisis = run("不想活了，活着没意思")
    assert crisis.guidance == CRISIS_LINE
    assert "心理危机干预热线" in crisis.advice_zh
    both = run("不想活了，吃了一整瓶安眠药")
    assert both.guidance == CALL_120
    assert {"suicide", "overdose"} <= set(both.red_flags)
    assert "crisis line" in both.advice_en


def test_a_red_flag_late_in_a_long_intake_is_still_found() -> None:
    """The normaliser caps text at 200 characters; the triage reads a long intake slice by slice."""
    text = "我最近睡眠不太好，工作压力也比较大，" * 20 + "刚才胸口疼得厉害，出了一身冷汗"
    assert "chest_pain" in run(text).red_flags


@pytest.mark.parametrize(
    ("text", "urgency"),
    [("大便发黑，最近胃也不舒服", "urgent"), ("发烧39.5度，浑身疼", "urgent"), ("腰疼，坐久了更明显", "routine")],
)
def test_same_day_signs_make_a_triage_urgent(text: str, urgency: str) -> None:
    """Urgent: blood in stool, 39 °C or more; routine otherwise."""
    assert run(text).urgency == urgency


def test_confidence_reflects_how_clearly_the_evidence_points() -> None:
    """A red flag is certain, a clear complaint is confident, no evidence is 0 and falls back to internal medicine."""
    assert run("胸口疼出冷汗").confidence == 1.0
    clear = run("糖尿病，血糖高，胰岛素快用完了")
    assert clear.confidence > 0.8
    assert clear.evidence[0] in ("糖尿病", "胰岛素", "血糖", "血糖高")
    nothing = run("你好")
    assert (nothing.department, nothing.confidence, nothing.evidence) == ("internal_medicine", 0.0, ())


def test_the_same_intake_always_gets_the_same_triage() -> None:
    """Determinism: triage is a pure function of the intake and the parameters."""
    intake = Intake("孩子发烧咳嗽，有点喘", 4, "m")
    assert triage(intake) == triage(intake)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("paediatric_max_age", 0.1),
        ("fever_celsius", 35.0),
        ("guardian_max_age", 30.0),
        ("population_bonus", -1.0),
        ("transfer_factor", 1.5),
        ("history_factor", -0.1),
        ("meds_factor", 2.0),
        ("diagnosis_factor", 0.5),
    ],
)
def test_parameters_refuse_values_out_of_range_and_name_the_field(field: str, value: float) -> None:
    """Every TriageParams field validates itself with a message naming it."""
    with pytest.raises(ValueError, match=field):
        TriageParams(**{field: value})


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"text": "  "}, "text"),
        ({"text": "头疼", "age_years": -1}, "age_years"),
        ({"text": "头疼", "age_years": float("nan")}, "age_years"),
        ({"text": "头疼", "sex": "x"}, "sex"),
        ({"text": "头疼", "sex": "m", "pregnant": True}, "pregnant"),
        ({"text": "头疼", "for_person": "neighbour"}, "for_person"),
    ],
)
def test_an_invalid_intake_form_is_refused_naming_the_field(form: dict[str, object], field: str) -> None:
    """The intake validates itself: ValidationFailed lists each bad field."""
    with pytest.raises(ValidationFailed) as caught:
        Intake(**form)  # type: ignore[arg-type]
    assert field in [f for f, _ in caught.value.errors]


def test_every_consult_department_has_evidence_in_the_dictionary() -> None:
    """Each of the 14 consult departments can be reached; emergency is reached only through red flags."""
    text = resources.files("yaodao.care").joinpath("data", "departments.tsv").read_text(encoding="utf-8")
    used = {line.split("\t")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert used == set(CONSULT_CODES)


def test_intake_flag_rows_only_raise_gate_codes_or_the_documented_additions() -> None:
    """Added flags reuse the gate's codes, plus infant_fever; urgent rows raise no red flag."""
    gate_codes = {
        "chest_pain", "breathing", "unconscious", "confusion", "seizure", "stroke", "bleeding", "anaphylaxis",
        "burn", "head_injury_trauma", "sick_child", "abdominal_pain_severe", "suicide", "overdose", "poisoning",
    }  # fmt: skip
    text = resources.files("yaodao.care").joinpath("data", "intake_flags.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    flag_codes = {r[1] for r in rows if r[0] in ("flag", "combo", "near") and r[2] in (CALL_120, CRISIS_LINE)}
    assert flag_codes == gate_codes | {"infant_fever"}
    assert {r[1] for r in rows if r[0] in ("flag", "combo", "near") and r[2] == CRISIS_LINE} == {"suicide"}
