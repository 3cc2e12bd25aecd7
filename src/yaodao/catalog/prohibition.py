"""The online-sales prohibition list (《药品网络销售禁止清单（第一版）》, NMPA 2022 No. 111).

DOMAIN.md S6: each product's ``online_sellable`` is computed from this list at ingest and
re-checked at checkout; there is no admin override. The rule works on ingredients (INN,
lower case) and dosage form, with Chinese names as a second net for data that slips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from yaodao.catalog.model import TOPICAL_FORMS, Ingredient

LIST_VERSION = "NMPA-2022-111/1"

# Part 1: banned by law (narcotics, psychotropics, toxic, radiopharmaceuticals, precursors, vaccines, blood).
_NARCOTICS = {
    "morphine",
    "codeine",
    "dihydrocodeine",
    "opium",
    "opium powder",
    "pethidine",
    "fentanyl",
    "oxycodone",
    "hydromorphone",
    "methadone",
    "sufentanil",
    "remifentanil",
    "buprenorphine",
    "pholcodine",
    "ethylmorphine",
    "thebaine",
    "cocaine",
    "diphenoxylate",
}
_PSYCHOTROPICS = {
    "diazepam",
    "alprazolam",
    "estazolam",
    "lorazepam",
    "clonazepam",
    "midazolam",
    "triazolam",
    "nitrazepam",
    "oxazepam",
    "zolpidem",
    "zopiclone",
    "eszopiclone",
    "zaleplon",
    "phenobarbital",
    "tramadol",
    "methylphenidate",
    "modafinil",
    "pentazocine",
    "butorphanol",
    "nalbuphine",
    "ketamine",
    "gamma-hydroxybutyrate",
    "meprobamate",
    "barbital",
    "amobarbital",
    "secobarbital",
    "dezocine",
}
_TOXIC = {"arsenic trioxide", "atropine", "scopolamine", "strychnine", "aconitine", "colchicine injection"}
_PRECURSORS = {"ephedrine", "pseudoephedrine", "methylephedrine", "norephedrine", "ergometrine", "ergotamine"}
_RADIOPHARMACEUTICAL_PREFIXES = ("technetium", "iodine-131", "sodium iodide (131i)", "fludeoxyglucose")

# Part 2 item 2: ephedrine-type ingredients in combinations; TCM with ephedra herb (麻黄) excepted.
_EPHEDRINES = {"ephedrine", "pseudoephedrine", "methylephedrine", "norephedrine"}
_ORAL_NARCOTIC_COMBINATION = {"codeine", "dihydrocodeine", "opium", "opium powder", "pholcodine", "ethylmorphine"}

# Part 2 item 3: doping anabolic agents and peptide hormones (insulin excepted).
_DOPING = {
    "testosterone",
    "nandrolone",
    "stanozolol",
    "methyltestosterone",
    "oxandrolone",
    "metandienone",
    "somatropin",
    "erythropoietin",
    "epoetin alfa",
    "epoetin beta",
    "chorionic gonadotrophin",
    "corticotropin",
    "mecasermin",
}

# Part 2 item 4: single-ingredient products; the antibacterials among them stay sellable in topical forms.
_SINGLE_INGREDIENT = {
    "digoxin": "地高辛",
    "disopyramide": "丙吡胺",
    "quinidine": "奎尼丁",
    "prazosin": "哌唑嗪",
    "procainamide": "普鲁卡因胺",
    "propafenone": "普罗帕酮",
    "amiodarone": "胺碘酮",
    "quinine": "奎宁",
    "aminophylline": "氨茶碱",
    "choline theophyllinate": "胆茶碱",
    "isoprenaline": "异丙肾上腺素",
    "phenytoin": "苯妥英钠",
    "carbamazepine": "卡马西平",
    "lamotrigine": "拉莫三嗪",
    "chloral hydrate": "水合氯醛",
    "dabigatran": "达比加群酯",
    "warfarin": "华法林",
    "ticagrelor": "替格瑞洛",
    "cilostazol": "西洛他唑",
    "primidone": "扑米酮",
    "lithium carbonate": "碳酸锂",
    "isoflurane": "异氟烷",
    "sevoflurane": "七氟烷",
    "enflurane": "恩氟烷",
    "desflurane": "地氟烷",
    "colchicine": "秋水仙碱",
    "cyproterone": "环丙孕酮",
    "carboprost": "卡前列甲酯",
    "estradiol": "雌二醇",
    "misoprostol": "米索前列醇",
    "dinoprostone": "地诺前列酮",
    "faropenem": "法罗培南",
    "fusidic acid": "夫西地酸",
    "voriconazole": "伏立康唑",
    "linezolid": "利奈唑胺",
    "nemonoxacin": "奈诺沙星",
    "posaconazole": "泊沙康唑",
    "cefdinir": "头孢地尼",
    "itraconazole": "伊曲康唑",
    "levornidazole": "左奥硝唑",
    "cefpodoxime": "头孢泊肟酯",
}
_ANTIBACTERIALS_TOPICAL_OK = {
    "faropenem",
    "fusidic acid",
    "voriconazole",
    "linezolid",
    "nemonoxacin",
    "posaconazole",
    "cefdinir",
    "itraconazole",
    "levornidazole",
    "cefpodoxime",
}
_ANTIDIABETIC_INJECTABLES = (
    "insulin",
    "liraglutide",
    "semaglutide",
    "exenatide",
    "dulaglutide",
    "lixisenatide",
    "tirzepatide",
    "polyethylene glycol loxenatide",
    "beinaglutide",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    sellable: bool
    reason: str | None  # the list item that bans it, in words


def _matches(inn: str, terms: Iterable[str]) -> str | None:
    """A term matches an INN exactly or as its leading word(s): 'warfarin sodium' ~ 'warfarin'."""
    for term in terms:
        if inn == term or inn.startswith(term + " "):
            return term
    return None


def check_online_sale(ingredients: Sequence[Ingredient], dosage_form: str, name_zh: str = "") -> Verdict:
    """Whether the prohibition list allows a product to be sold online, and if not, why."""
    inns = [i.inn.strip().lower() for i in ingredients]
    single = len(inns) == 1
    topical = dosage_form in TOPICAL_FORMS

    for inn in inns:
        if "vaccine" in inn or "疫苗" in name_zh:
            return Verdict(False, f"Part 1: vaccines (疫苗) — {inn}")
        if _matches(inn, _NARCOTICS) and not (_matches(inn, _ORAL_NARCOTIC_COMBINATION) and not single):
            return Verdict(False, f"Part 1: narcotic drugs (麻醉药品) — {inn}")
        if _matches(inn, _PSYCHOTROPICS) and (single or not _matches(inn, {"tramadol"})):
            return Verdict(False, f"Part 1: psychotropic drugs (精神药品) — {inn}")
        if _matches(inn, _TOXIC):
            return Verdict(False, f"Part 1: medical toxic drugs (医疗用毒性药品) — {inn}")
        if inn.startswith(_RADIOPHARMACEUTICAL_PREFIXES):
            return Verdict(False, f"Part 1: radiopharmaceuticals (放射性药品) — {inn}")
        if single and _matches(inn, _PRECURSORS):
            return Verdict(False, f"Part 1: drug-class precursor chemicals (药品类易制毒化学品) — {inn}")
    if "配方颗粒" in name_zh:
        return Verdict(False, "Part 1: TCM formula granules (中药配方颗粒)")
    if "医疗机构制剂" in name_zh:
        return Verdict(False, "Part 1: hospital preparations (医疗机构制剂)")

    if dosage_form == "injection" and not any(inn.startswith(_ANTIDIABETIC_INJECTABLES) for inn in inns):
        return Verdict(False, "Part 2 item 1: injections (注射剂), other than anti-diabetic drugs")
    if not single:
        if any(_matches(inn, _EPHEDRINES) for inn in inns):
            return Verdict(False, "Part 2 item 2: ephedrine-containing combinations (含麻黄碱类复方制剂)")
        if any(_matches(inn, _ORAL_NARCOTIC_COMBINATION) for inn in inns) and not topical:
            return Verdict(False, "Part 2 item 2: oral combinations containing narcotics (含麻醉药品口服复方制剂)")
        if any(_matches(inn, {"tramadol"}) for inn in inns) and not topical:
            return Verdict(False, "Part 2 item 2: oral combinations containing tramadol (含曲马多口服复方制剂)")
    if single and _matches(inns[0], {"dextromethorphan"}) and not topical:
        return Verdict(False, "Part 2 item 2: single-ingredient oral dextromethorphan (右美沙芬口服单方制剂)")
    for inn in inns:
        if _matches(inn, _DOPING) and not inn.startswith("insulin"):
            return Verdict(False, f"Part 2 item 3: anabolic agents / peptide hormones on the doping list — {inn}")
        if _matches(inn, {"mifepristone"}):
            return Verdict(False, "Part 2 item 4: mifepristone, including combinations (米非司酮)")
    if single:
        term = _matches(inns[0], _SINGLE_INGREDIENT)
        if term is None:  # second net: a mislabelled INN still carries its Chinese name
            term = next((t for t, zh in _SINGLE_INGREDIENT.items() if zh in name_zh), None)
        if term is not None and not (topical and term in _ANTIBACTERIALS_TOPICAL_OK):
            return Verdict(False, f"Part 2 item 4: single-ingredient {_SINGLE_INGREDIENT[term]} ({term})")
    return Verdict(True, None)
