"""The retrieval index port: documents in, ranked product ids out.

The query analyser (segmentation, pinyin, synonyms) runs before this port, on documents and
queries alike; the index only stores space-separated tokens and matches terms against them.
Adapters (SQLite FTS5, PostgreSQL full text + pg_trgm) share one contract suite
(``tests/contract/test_search_index.py``) and the helpers below, so both clean and classify
terms the same way.

Matching and scoring, summed over the cleaned terms of a query (OR semantics: a document
matching any term is a hit):

* **token match** — the term is a token of the document: a BM25 contribution,
  ``idf(term) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))``, so documents
  matching more and rarer terms rank higher;
* **prefix match** — for Latin terms of :data:`MIN_PREFIX_CHARS` or more (``parac`` finds
  ``paracetamol``): the same BM25 contribution for "a token starts with the term", times
  :data:`PREFIX_WEIGHT`. A full-token match also matches as a prefix, so it always ranks higher;
* **name substring** — for terms with Chinese characters, :data:`MIN_SUBSTRING_CHARS` or more,
  that occur inside the display name (``布洛`` finds ``芬必得 布洛芬缓释胶囊``), a fallback for
  words the segmenter split differently: ``SUBSTRING_WEIGHT * len(term) / len(name)``, at most
  :data:`SUBSTRING_WEIGHT`, so a tighter name ranks first. Only terms that are no document's token
  take this path: scanning every name costs most of a query, and a term that is a token somewhere
  is answered by the token match.

Scores are floats, higher is better, comparable only within one result list: the BM25 part
depends on the corpus (its size and term frequencies) and the engines tokenise punctuation
inside a token slightly differently. Ties are broken by product id, so results are stable.

Terms are user-influenced text. :func:`clean_terms` makes them safe to bind (adapters still
quote them for their own query syntax and never format them into SQL): it NFKC-normalises and
lower-cases, splits on whitespace, removes control, format (zero-width), surrogate and private
characters, drops terms with no letter or digit (nothing could match them: both engines
tokenise on letters and digits), terms longer than :data:`MAX_TERM_CHARS` and duplicates, and
keeps the first :data:`MAX_TERMS`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

MAX_TERMS = 32  # terms beyond these (after cleaning and de-duplication) are ignored
MAX_TERM_CHARS = 64  # longer terms and document tokens are dropped: no real drug word is that long
MIN_PREFIX_CHARS = 3
MIN_SUBSTRING_CHARS = 2
PREFIX_WEIGHT = 0.5
SUBSTRING_WEIGHT = 0.5
# SQLite FTS5's bm25() constants; the PostgreSQL adapter uses the same ones.
BM25_K1 = 1.2
BM25_B = 0.75

_LATIN_PREFIX = re.compile(r"[0-9a-z]*[a-z][0-9a-z]*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    """One product as the index sees it.

    ``name`` is the display name (substring fallback); ``tokens`` the analyser's output for the
    product, space-separated: Chinese words, English and INN names, brands, pinyin, initials.
    """

    product_id: str
    name: str
    tokens: str

    def __post_init__(self) -> None:
        if not self.product_id or not self.product_id.strip():
            raise ValueError("product_id must not be empty.")


@dataclass(frozen=True, slots=True)
class Hit:
    product_id: str
    score: float  # higher is better; see the module docstring for the scale


class SearchIndex(Protocol):
    def replace(self, docs: Sequence[IndexedDocument]) -> None:
        """Insert these documents, or overwrite the ones with the same product id."""
        ...

    def remove(self, product_ids: Iterable[str]) -> None:
        """Delete these documents; unknown ids are ignored."""
        ...

    def search(self, terms: Sequence[str], *, limit: int = 50) -> list[Hit]:
        """The best ``limit`` documents matching any term, best first; ``[]`` for no usable terms."""
        ...

    def count(self) -> int:
        """How many documents the index holds."""
        ...

    def ids(self) -> set[str]:
        """The ids of every document the index holds (to remove the ones the catalog no longer has)."""
        ...


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What an adapter asks its engine: every term as a token, some as prefixes or substrings."""

    terms: tuple[str, ...]
    prefixes: tuple[str, ...]
    substrings: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.terms)


def _visible(text: str) -> str:
    # Control, format (zero-width), surrogate, private-use and unassigned characters.
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))


def normalise(text: str) -> str:
    """NFKC (full-width folds to ASCII), lower case, invisible characters removed."""
    return _visible(unicodedata.normalize("NFKC", text).lower())


def _words(text: str) -> list[str]:
    words = []
    for raw in unicodedata.normalize("NFKC", text).lower().split():
        word = _visible(raw)
        if word and len(word) <= MAX_TERM_CHARS and any(ch.isalnum() for ch in word):
            words.append(word)
    return words


def clean_terms(terms: Iterable[str]) -> list[str]:
    """Terms safe to hand to an adapter: see the module docstring. Order is kept."""
    seen: dict[str, None] = {}
    for term in terms:
        if not isinstance(term, str):
            continue
        for word in _words(term):
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def is_prefix_term(term: str) -> bool:
    """Latin letters and digits only, with a letter, at least MIN_PREFIX_CHARS long: pinyin, English."""
    return len(term) >= MIN_PREFIX_CHARS and _LATIN_PREFIX.fullmatch(term) is not None


def is_substring_term(term: str) -> bool:
    """At least MIN_SUBSTRING_CHARS long, with a Chinese character."""
    return len(term) >= MIN_SUBSTRING_CHARS and _CJK.search(term) is not None


def plan_query(terms: Iterable[str]) -> QueryPlan:
    cleaned = tuple(clean_terms(terms))
    return QueryPlan(
        terms=cleaned,
        prefixes=tuple(t for t in cleaned if is_prefix_term(t)),
        substrings=tuple(t for t in cleaned if is_substring_term(t)),
    )


def clean_document(doc: IndexedDocument) -> IndexedDocument:
    """The document as stored: normalised name, tokens cleaned like terms and single-spaced."""
    return IndexedDocument(
        product_id=doc.product_id,
        name=" ".join(normalise(doc.name).split()),
        tokens=" ".join(_words(doc.tokens)),
    )


def latest_by_id(docs: Iterable[IndexedDocument]) -> list[IndexedDocument]:
    """Cleaned documents, one per product id (the last one given wins), in product-id order.

    Writing in primary-key order lets concurrent writers queue instead of deadlocking.
    """
    by_id = {doc.product_id: clean_document(doc) for doc in docs}
    return [by_id[key] for key in sorted(by_id)]


def like_contains(term: str) -> str:
    """A LIKE pattern for "contains ``term``", with ``\\`` as the escape character."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A term in more than this share of a large catalog (片, 胶囊) tells documents apart no better than
# BM25's idf floor, yet makes the engine score most of the table.
COMMON_TERM_SHARE = 0.2
COMMON_TERM_MIN_DOCS = 500


def discriminating(terms: Sequence[str], known: dict[str, int], documents: int) -> list[str]:
    """The terms worth matching: all but the very common ones, and never none."""
    ceiling = max(COMMON_TERM_MIN_DOCS, COMMON_TERM_SHARE * documents)
    kept = [t for t in terms if known.get(t, 0) <= ceiling]
    return kept or [min(terms, key=lambda t: known.get(t, 0))]
