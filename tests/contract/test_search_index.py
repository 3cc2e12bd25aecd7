"""The SearchIndex contract, run against SQLite FTS5 and PostgreSQL full text + pg_trgm.

Thirteen real-looking OTC and Rx products, tokenised as the query analyser would: jieba words,
English and INN names, brands, pinyin and initials. Both engines must agree on every top hit
below; score values may differ.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from yaodao.adapters.db import migrate
from yaodao.adapters.db.engine import build_engine
from yaodao.adapters.search_postgres import PostgresSearchIndex, build_search_index
from yaodao.adapters.search_sqlite import SqliteSearchIndex
from yaodao.search.index import MAX_TERMS, Hit, IndexedDocument, SearchIndex, clean_terms

D = IndexedDocument
CATALOGUE = [
    D(
        "p-ibuprofen-caps",
        "芬必得 布洛芬缓释胶囊",
        "芬必得 布洛芬 缓释 胶囊 ibuprofen buluofen blf fenbide fbd advil headache 头痛 发热 止痛 0.3g",
    ),
    D(
        "p-ibuprofen-susp",
        "美林 布洛芬混悬液",
        "美林 布洛芬 混悬液 ibuprofen buluofen blf meilin motrin 儿童 发热 退烧",
    ),
    D(
        "p-paracetamol",
        "泰诺林 对乙酰氨基酚缓释片",
        "泰诺林 对乙酰氨基酚 缓释 片 paracetamol acetaminophen 扑热息痛 tylenol tainuolin "
        "duiyixiananjifen dyxajf 发热 头痛",
    ),
    D(
        "p-baijiahei",
        "白加黑 氨酚伪麻美芬片",
        "白加黑 氨酚 伪麻 美芬 片 paracetamol pseudoephedrine dextromethorphan baijiahei bjh 感冒 鼻塞 咳嗽",
    ),
    D(
        "p-loratadine",
        "开瑞坦 氯雷他定片",
        "开瑞坦 氯雷他定 片 loratadine claritin kairuitan lvleitading lltd allergy 过敏 鼻炎",
    ),
    D(
        "p-smecta",
        "思密达 蒙脱石散",
        "思密达 蒙脱石 散 diosmectite smecta simida mengtuoshi mtss diarrhea 腹泻 拉肚子",
    ),
    D(
        "p-ganmaoling",
        "999 感冒灵颗粒",
        "999 感冒灵 感冒 颗粒 ganmaoling gml ganmao sanjiujiu 感冒 发热 头痛 鼻塞",
    ),
    D(
        "p-lianhua",
        "连花清瘟胶囊",
        "连花清瘟 连花 清瘟 胶囊 lianhuaqingwen lhqw 流感 发热 咳嗽 influenza",
    ),
    D(
        "p-amoxicillin",
        "阿莫仙 阿莫西林胶囊",
        "阿莫仙 阿莫西林 胶囊 amoxicillin amoxil amoxian amoxilin amxl 抗生素 antibiotic 处方",
    ),
    D(
        "p-vitamin-c",
        "维生素C片",
        "维生素c 维生素 片 vitamin vitaminc weishengsu wss",
    ),
    D(
        "p-omeprazole",
        "洛赛克 奥美拉唑肠溶胶囊",
        "洛赛克 奥美拉唑 肠溶 胶囊 omeprazole losec luosaike aomeilazuo amlz 胃痛 反酸 heartburn",
    ),
    D(
        "p-cotrimoxazole",
        "复方磺胺甲噁唑片",
        "复方 磺胺甲噁唑 片 co-trimoxazole sulfamethoxazole trimethoprim fufang smz",
    ),
    D(
        "p-mask",
        "医用外科口罩",
        "医用 外科 口罩 mask surgical yiyong waike kouzhao kz",
    ),
]

HOSTILE = [
    '"',
    "*",
    "NEAR(",
    "OR",
    "AND",
    "NOT",
    '")',
    "'; DROP TABLE products; --",
    "🤒",
    "\x00",
    "\u200b",
    "a" * 10000,
    "tokens:ibuprofen",
    '"ibuprofen" OR "*"',
    "NEAR(ibuprofen loratadine, 2)",
    "^ibuprofen",
    "%",
    "_",
    "\\",
    "\ud800",
    "布洛芬\x00芬",
    "   ",
    "",
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate.upgrade(db_url)
    eng = build_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def index(engine: Engine) -> SearchIndex:
    idx = build_search_index(engine)
    idx.replace(CATALOGUE)
    return idx


def ids(hits: list[Hit]) -> list[str]:
    return [h.product_id for h in hits]


def top(index: SearchIndex, *terms: str) -> str:
    hits = index.search(terms)
    assert hits, f"nothing found for {terms}"
    return hits[0].product_id


def test_the_factory_picks_the_adapter_for_the_dialect(engine: Engine) -> None:
    """SQLite gets FTS5, PostgreSQL full text."""
    expected = SqliteSearchIndex if engine.dialect.name == "sqlite" else PostgresSearchIndex
    assert isinstance(build_search_index(engine), expected)


def test_ids_are_the_documents_held(index: SearchIndex) -> None:
    """ids() lists what replace() stored and forgets what remove() dropped."""
    held = index.ids()
    assert len(held) == index.count()
    victim = sorted(held)[0]
    index.remove([victim])
    assert index.ids() == held - {victim}


def test_count_is_the_number_of_documents(index: SearchIndex) -> None:
    """Thirteen documents in, thirteen counted; replacing the same ones adds none."""
    assert index.count() == len(CATALOGUE)
    index.replace(CATALOGUE)
    assert index.count() == len(CATALOGUE)


def test_an_empty_index_finds_nothing(engine: Engine) -> None:
    """A fresh index counts zero and answers every query with an empty list."""
    idx = build_search_index(engine)
    assert idx.count() == 0
    assert idx.search(["布洛芬", "parac", "布洛"]) == []


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        pytest.param("氯雷他定", "p-loratadine", id="chinese-inn"),
        pytest.param("思密达", "p-smecta", id="chinese-brand"),
        pytest.param("loratadine", "p-loratadine", id="english-inn"),
        pytest.param("smecta", "p-smecta", id="english-brand"),
        pytest.param("omeprazole", "p-omeprazole", id="english-lowercase"),
        pytest.param("OMEPRAZOLE", "p-omeprazole", id="english-uppercase"),
        pytest.param("ＯＭＥＰＲＡＺＯＬＥ", "p-omeprazole", id="english-full-width"),
        pytest.param("lvleitading", "p-loratadine", id="pinyin-full"),
        pytest.param("dyxajf", "p-paracetamol", id="pinyin-initials"),
        pytest.param("999", "p-ganmaoling", id="digits"),
        pytest.param("0.3g", "p-ibuprofen-caps", id="strength"),
        pytest.param("co-trimoxazole", "p-cotrimoxazole", id="hyphenated"),
        pytest.param("口罩", "p-mask", id="device"),
    ],
)
def test_a_single_term_finds_its_product_first(index: SearchIndex, term: str, expected: str) -> None:
    """Chinese, English, pinyin and initials each find the product they name."""
    assert top(index, term) == expected


def test_a_word_shared_by_two_products_finds_both(index: SearchIndex) -> None:
    """布洛芬 / buluofen name two ibuprofen products, and nothing else."""
    for term in ("布洛芬", "buluofen", "ibuprofen"):
        assert set(ids(index.search([term]))) == {"p-ibuprofen-caps", "p-ibuprofen-susp"}, term


def test_a_two_character_chinese_word_matches(index: SearchIndex) -> None:
    """感冒 is a word of two products; 感冒灵 names it and repeats it, so it ranks first."""
    hits = index.search(["感冒"])
    assert set(ids(hits)) == {"p-ganmaoling", "p-baijiahei"}
    assert hits[0].product_id == "p-ganmaoling"


def test_a_latin_prefix_matches_with_a_lower_weight(index: SearchIndex) -> None:
    """'parac' finds both paracetamol products; 'paracetamol' itself scores higher than its prefix."""
    prefix_hits = index.search(["parac"])
    assert set(ids(prefix_hits)) == {"p-paracetamol", "p-baijiahei"}
    assert all(h.score > 0 for h in prefix_hits)
    full_hits = {h.product_id: h.score for h in index.search(["paracetamol"])}
    assert set(full_hits) == {"p-paracetamol", "p-baijiahei"}
    for hit in prefix_hits:
        assert full_hits[hit.product_id] > hit.score


def test_a_short_prefix_or_a_prefix_of_a_chinese_word_does_not_match(index: SearchIndex) -> None:
    """Prefixes need three Latin characters: 'pa' finds nothing; '氯雷' matches only by name."""
    assert index.search(["pa"]) == []
    assert ids(index.search(["氯雷"])) == ["p-loratadine"]


def test_an_exact_token_outranks_a_longer_token_with_that_prefix(index: SearchIndex) -> None:
    """A token match is worth more than a prefix match of the same term."""
    index.replace([D("p-exact", "甲", "zolpex"), D("p-longer", "乙", "zolpexamine")])
    hits = index.search(["zolpex"])
    assert ids(hits) == ["p-exact", "p-longer"]
    assert hits[0].score > hits[1].score > 0


def test_a_chinese_substring_of_the_name_matches_as_a_fallback(index: SearchIndex) -> None:
    """布洛 is no token, but both ibuprofen names contain it; the shorter name ranks first."""
    hits = index.search(["布洛"])
    assert ids(hits) == ["p-ibuprofen-susp", "p-ibuprofen-caps"]
    assert all(0 < h.score <= 0.5 for h in hits)


def test_the_name_substring_fallback_serves_only_terms_no_document_has_as_a_token(index: SearchIndex) -> None:
    """维生素 is a token somewhere, so token matches answer it; 维生 is not, so names are scanned for it."""
    index.replace([D("p-name-only", "维生素C泡腾片", "泡腾片 vitamin")])
    assert ids(index.search(["维生素"]))[0] == "p-vitamin-c"
    assert "p-name-only" not in ids(index.search(["维生素"]))
    assert "p-name-only" in ids(index.search(["维生"]))


def test_like_wildcards_in_terms_are_literal(index: SearchIndex) -> None:
    """'感%' and '感_' must not act as LIKE wildcards over the names."""
    assert index.search(["感%"]) == []
    assert index.search(["感_"]) == []
    index.replace([D("p-percent", "感%测试", "percent")])
    assert ids(index.search(["感%"])) == ["p-percent"]


def test_more_matched_terms_rank_higher(index: SearchIndex) -> None:
    """头痛 + ibuprofen: the capsule matches both and beats products matching one."""
    hits = index.search(["头痛", "ibuprofen"])
    assert hits[0].product_id == "p-ibuprofen-caps"
    assert {"p-ibuprofen-susp", "p-paracetamol", "p-ganmaoling"} <= set(ids(hits))
    assert all(hits[0].score > h.score for h in hits[1:])


def test_a_rarer_term_weighs_more_than_a_common_one(index: SearchIndex) -> None:
    """发热 is in five products, 过敏 in one: the allergy product comes first."""
    hits = index.search(["发热", "过敏"])
    assert hits[0].product_id == "p-loratadine"
    assert len(hits) == 6


def test_the_limit_is_respected(index: SearchIndex) -> None:
    """Many matches, few returned, best first; a zero limit returns nothing."""
    terms = ["片", "胶囊", "发热"]
    everything = index.search(terms)
    assert len(everything) > 3
    assert ids(index.search(terms, limit=3)) == ids(everything)[:3]
    assert index.search(terms, limit=0) == []
    assert [h.score for h in everything] == sorted((h.score for h in everything), reverse=True)


def test_no_terms_find_nothing(index: SearchIndex) -> None:
    """No terms, or only blank ones, give an empty list."""
    assert index.search([]) == []
    assert index.search(["", "  ", "\t\n"]) == []


def test_replace_overwrites_a_document(index: SearchIndex) -> None:
    """After a replace the old tokens no longer match and the new ones do; the count stays."""
    index.replace([D("p-loratadine", "开瑞坦 氯雷他定片 新包装", "开瑞坦 desloratadine-new kairuitan")])
    assert "p-loratadine" not in ids(index.search(["loratadine", "lltd"]))
    assert top(index, "desloratadine-new") == "p-loratadine"
    assert top(index, "新包装") == "p-loratadine"  # the name changed too
    assert index.count() == len(CATALOGUE)


def test_the_last_of_duplicate_documents_wins(index: SearchIndex) -> None:
    """Two documents for one product in one call: the later one is kept."""
    index.replace([D("p-dup", "一", "firstversion"), D("p-dup", "二", "secondversion")])
    assert index.search(["firstversion"]) == []
    assert ids(index.search(["secondversion"])) == ["p-dup"]
    assert index.count() == len(CATALOGUE) + 1


def test_remove_deletes_documents_and_ignores_unknown_ids(index: SearchIndex) -> None:
    """Removed products are no longer found or counted; unknown ids are no error."""
    index.remove(["p-smecta", "p-unknown"])
    index.remove([])
    assert index.search(["smecta", "思密达", "蒙脱"]) == []
    assert index.count() == len(CATALOGUE) - 1
    assert top(index, "loratadine") == "p-loratadine"


def test_many_documents_replace_and_remove_in_chunks(index: SearchIndex) -> None:
    """More documents than one statement holds: all are written, counted and removed."""
    bulk = [D(f"p-bulk-{i:04d}", f"批量{i}", f"bulkword bulk{i:04d}") for i in range(1203)]
    index.replace(bulk)
    assert index.count() == len(CATALOGUE) + 1203
    assert ids(index.search(["bulk0777"])) == ["p-bulk-0777"]
    assert len(index.search(["bulkword"], limit=1000)) == 1000
    index.remove(d.product_id for d in bulk)
    assert index.count() == len(CATALOGUE)


def test_documents_with_hostile_text_are_stored_and_found(index: SearchIndex) -> None:
    """Quotes, wildcards and control characters in a document are data, not syntax."""
    index.replace([D("p-odd", 'O\'Brien "牌" 100%_\\ 止咳\x00糖浆', 'o\'brien "quoted" 100% 止咳 糖浆 \x00 ⁂')])
    assert top(index, "quoted") == "p-odd"
    assert top(index, "止咳糖浆") == "p-odd"  # the NUL is gone from the name
    assert top(index, "糖浆") == "p-odd"


@pytest.mark.parametrize("term", HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
def test_hostile_terms_never_raise(index: SearchIndex, term: str) -> None:
    """Query syntax, SQL, emoji, control characters and huge strings: a list, never an error."""
    hits = index.search([term])
    assert isinstance(hits, list)
    assert all(isinstance(h, Hit) for h in hits)
    assert top(index, "loratadine", term) == "p-loratadine"
    assert index.count() == len(CATALOGUE)


def test_all_hostile_terms_at_once_leave_the_index_working(index: SearchIndex, engine: Engine) -> None:
    """Every hostile term in one query; then the index and the catalogue table still work."""
    assert isinstance(index.search(HOSTILE), list)
    assert isinstance(index.search(HOSTILE * 5, limit=5), list)
    assert top(index, "smecta") == "p-smecta"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM products")).scalar_one() == 0
    index.replace([D("p-new", "新药", "newdrug")])
    assert top(index, "newdrug") == "p-new"


def test_hostile_words_match_as_plain_words(index: SearchIndex) -> None:
    """'NEAR(' and 'OR' are words like any other: they find documents holding them."""
    index.replace([D("p-words", "英文", "near or and not")])
    assert ids(index.search(["NEAR("])) == ["p-words"]
    assert ids(index.search(["OR"])) == ["p-words"]


def test_terms_are_cleaned_and_capped() -> None:
    """Invisible characters go, case folds, duplicates and over-long terms drop, at most MAX_TERMS stay."""
    assert clean_terms(["Ibu\u200bprofen", "IBUPROFEN", "🤒", "a" * 100, "two words"]) == [
        "ibuprofen",
        "two",
        "words",
    ]
    assert len(clean_terms(f"t{i}" for i in range(100))) == MAX_TERMS
