"""Medical search: analyse the query, find the intent, retrieve, rank, and build the landing page.

Ranking: relevance first (the retrieval score, raised for the drug the query names and for
products that treat the symptom it names), then what reaches the user soonest. An urgent query
puts delivery time first among the relevant products.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from yaodao.catalog.model import DrugClass, Product
from yaodao.kernel.city import City
from yaodao.kernel.geo import LatLng
from yaodao.search.analyze import Analysis, analyze, document_tokens, query_terms
from yaodao.search.availability import AvailabilityIndex, Offer, OutsideServiceArea
from yaodao.search.index import IndexedDocument, SearchIndex
from yaodao.search.intent import IntentResult, classify
from yaodao.search.landing import CRISIS_LINE, Emergency, LandingPage, ProductCard
from yaodao.search.lexicon import Lexicon
from yaodao.search.pregnancy import pregnancy_fit

LATE_HORIZON_MINUTES = 60
# What "I need medicine now" most often means when no drug or symptom is named: a first-aid shelf.
# Weights order the shelf: fever and pain first, then colds, stomach upsets, allergies, coughs.
ESSENTIALS = {"fever_pain": 0.5, "cold_flu": 0.4, "digestion": 0.3, "allergy": 0.3, "cough": 0.2, "first_aid": 0.1}
CRISIS_CODES = frozenset({"suicide", "overdose"})


@dataclass(frozen=True, slots=True)
class SearchParams:
    retrieve: int = 60  # documents asked of the index
    candidates: int = 36  # products ranked on a page (and looked up for delivery): three sections' worth
    per_group: int = 4  # packs of one identical text (the same generic from many makers) on a page
    page_size: int = 12  # OTC cards per section
    rx_size: int = 6
    named_drug_boost: float = 1.5  # the product contains the drug the query names
    symptom_boost: float = 0.8  # the product treats the symptom the query names
    child_boost: float = 0.4  # a children's product when the query names a child
    pregnancy_boost: float = 0.6  # per step of fit (pregnancy_fit) when the query names pregnancy
    # When no drug is named, the answers above should offer a choice: each answer already ranked
    # costs a later one with the same ingredients, and (less) one of the same kind (traditional
    # Chinese medicine or not), so 感冒药 shows 板蓝根 once and the paracetamol combinations too.
    same_answer_penalty: float = 0.5
    same_kind_penalty: float = 0.1
    diversify_top: int = 12  # answers re-ordered this way; the rest keep their order
    relevance_step: float = 0.25  # relevance within a step counts as equal; delivery time decides
    # For a symptom (no drug named), what a person can buy now comes first: prescription products
    # keep their place in their own section but rank after the OTC answers.
    unnamed_rx_factor: float = 0.5

    def __post_init__(self) -> None:
        for name in ("retrieve", "candidates", "per_group", "page_size", "rx_size", "diversify_top"):
            if not 1 <= getattr(self, name) <= 500:
                raise ValueError(f"{name} must be between 1 and 500.")
        if self.relevance_step <= 0:
            raise ValueError("relevance_step must be positive.")


class Catalog:
    """What search needs from the catalog, in memory: products by id and the lexicon built from them."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.products = {p.id: p for p in products if p.active}
        self.lexicon = Lexicon.build(self.products.values())
        # The "I need medicine now" shelf, weighted by need; computed once per catalog snapshot.
        self.essentials = sorted(
            (
                (p, max(ESSENTIALS.get(c, 0.0) for c in p.categories))
                for p in self.products.values()
                if p.online_sellable and p.drug_class.is_otc and ESSENTIALS.keys() & set(p.categories)
            ),
            key=lambda ps: (-ps[1], ps[0].sku),
        )
        # One index document per distinct searchable text: the same generic from thirty makers reads
        # the same to the index, and scoring it thirty times is most of a query's cost at scale.
        members: dict[str, list[str]] = {}
        self._documents: dict[str, IndexedDocument] = {}
        for product in self.products.values():
            doc = document(product, self.lexicon)
            key = "g-" + hashlib.sha1(f"{doc.name}\n{doc.tokens}".encode()).hexdigest()[:24]
            members.setdefault(key, []).append(product.id)
            self._documents.setdefault(key, replace(doc, product_id=key))
        # Cheapest first: the packs a page shows from a group are the ones a shopper compares.
        self.members = {
            key: tuple(sorted(ids, key=lambda i: (self.products[i].price_fen, self.products[i].sku)))
            for key, ids in members.items()
        }
        self.group_of = {product_id: key for key, ids in self.members.items() for product_id in ids}

    def documents(self) -> list[IndexedDocument]:
        """The index documents, one per group of products that read the same (see ``members``)."""
        return list(self._documents.values())


def document(product: Product, lexicon: Lexicon) -> IndexedDocument:
    name = " ".join(x for x in (product.brand_name_zh, product.generic_name_zh, product.generic_name_en) if x)
    return IndexedDocument(product_id=product.id, name=name, tokens=document_tokens(product, lexicon))


class SearchService:
    def __init__(
        self,
        *,
        load_products: Callable[[], list[Product]],
        index: SearchIndex,
        availability: Callable[[str], AvailabilityIndex | None],
        params: SearchParams | None = None,
    ) -> None:
        self._load = load_products
        self._index = index
        self._availability = availability
        self.params = params or SearchParams()
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog(self._load())
            return self._catalog

    def reindex(self) -> int:
        """Rebuild the catalog snapshot and the index from the products (a derived index: always safe)."""
        with self._lock:
            self._catalog = Catalog(self._load())
            catalog = self._catalog
        documents = catalog.documents()
        self._index.replace(documents)
        stale = self._index.ids() - catalog.members.keys()
        if stale:
            self._index.remove(stale)
        return len(documents)

    def index_is_current(self) -> bool:
        return self._index.ids() == self.catalog.members.keys()

    def search(self, query: str, *, city: City, address: LatLng, at: datetime) -> LandingPage:
        catalog = self.catalog
        analysis = analyze(query, catalog.lexicon)
        intent = classify(analysis)
        window = city.window_at(at)
        base = LandingPage(
            query=query,
            normalized=analysis.normalized,
            intent=intent.intent,
            confidence=intent.confidence,
            entities=intent.entities,
            city_id=city.id,
            window=window.name,
            promise_minutes=window.promise_minutes,
            local_time=city.local(at).strftime("%H:%M"),
        )
        if intent.intent == "emergency":
            codes = tuple(dict.fromkeys(f.code for f in analysis.red_flags))
            crisis = CRISIS_LINE if CRISIS_CODES & set(codes) else None
            return replace(base, emergency=Emergency(codes=codes, crisis_line=crisis), ask_doctor=False)
        index = self._availability(city.id)
        if index is None or not index.contains(address):
            return replace(
                base,
                outside_service_area=True,
                message="这个地址不在配送范围内 — the address is outside the service area",
            )
        ranked = self._rank(catalog, analysis, intent)
        return self._page(base, ranked, index, analysis, intent, address, at, window.promise_minutes)

    def _rank(self, catalog: Catalog, analysis: Analysis, intent: IntentResult) -> list[tuple[Product, float]]:
        params = self.params
        terms = query_terms(analysis)
        hits = self._index.search(terms, limit=params.retrieve) if terms else []
        top = max((h.score for h in hits), default=0.0) or 1.0
        # Scored per group of identical products (one representative each), expanded at the end.
        scores: dict[str, float] = {h.product_id: h.score / top for h in hits if h.product_id in catalog.members}
        named = {d.inn for d in analysis.drugs}
        named_groups = {
            catalog.group_of[product_id]
            for key in named
            if (info := catalog.lexicon.drugs.get(key))
            for product_id in info.product_ids
            if product_id in catalog.group_of
        }
        for group in named_groups:
            scores[group] = scores.get(group, 0.0) + params.named_drug_boost
        treats: set[str] = set()
        for symptom in analysis.symptoms:
            found = catalog.lexicon.symptoms.get(symptom.code)
            if found:
                treats.update(found.categories)
        child = "child" in analysis.persons
        pregnant = bool({"pregnant", "breastfeeding"} & set(analysis.persons))
        groups: list[tuple[float, str, str]] = []
        for group, score in scores.items():
            product = catalog.products[catalog.members[group][0]]
            if treats and treats & set(product.categories):
                score += params.symptom_boost
            if child and "childrens_health" in product.categories:
                score += params.child_boost
            if pregnant:
                score += params.pregnancy_boost * pregnancy_fit(product)
            if not named and product.drug_class is DrugClass.RX:
                score *= params.unnamed_rx_factor
            groups.append((-score, product.sku, group))
        groups.sort()
        if not named:
            groups = self._diversified(catalog, groups)
        ranked: list[tuple[Product, float]] = []
        for negative, _, group in groups:
            members = [catalog.products[i] for i in catalog.members[group]]
            # Prohibited online (DOMAIN S6): never offered, whatever matched.
            ranked += [(p, -negative) for p in members if p.online_sellable][: params.per_group]
            if len(ranked) >= params.candidates:
                break
        if not ranked and intent.intent == "urgent_medicine":
            ranked = [
                (p, weight + (params.child_boost if child and "childrens_health" in p.categories else 0.0))
                for p, weight in catalog.essentials[: params.candidates * 4]
            ]
        ranked.sort(key=lambda ps: -ps[1])  # stable: groups keep their order, packs cheapest first
        return ranked[: params.candidates]  # more only costs availability lookups

    def _diversified(self, catalog: Catalog, groups: list[tuple[float, str, str]]) -> list[tuple[float, str, str]]:
        """Greedy re-ranking of the top groups (maximal marginal relevance): relevance minus the
        penalties for answers already placed above with the same ingredients or of the same kind."""
        params = self.params
        head, tail = groups[: params.diversify_top * 2], groups[params.diversify_top * 2 :]
        traits = []
        for _, _, group in head:
            product = catalog.products[catalog.members[group][0]]
            traits.append((frozenset(product.inns), "tcm" in product.categories))
        answers: dict[frozenset[str], int] = {}
        kinds: dict[bool, int] = {}
        left = list(range(len(head)))
        placed: list[tuple[float, str, str]] = []
        while left and len(placed) < params.diversify_top:
            scored = [
                (
                    -head[i][0]
                    - params.same_answer_penalty * answers.get(traits[i][0], 0)
                    - params.same_kind_penalty * kinds.get(traits[i][1], 0),
                    -i,
                )
                for i in left
            ]
            relevance, negative_i = max(scored)
            i = -negative_i
            left.remove(i)
            placed.append((-relevance, head[i][1], head[i][2]))
            answers[traits[i][0]] = answers.get(traits[i][0], 0) + 1
            kinds[traits[i][1]] = kinds.get(traits[i][1], 0) + 1
        # Placed answers keep their adjusted relevance (the page orders by it); the rest follow.
        ceiling = max((score for score, _, _ in placed), default=0.0)  # the lowest placed, negated
        rest = sorted([head[i] for i in left] + tail)
        return placed + [(max(score, ceiling), sku, group) for score, sku, group in rest]

    def _page(
        self,
        base: LandingPage,
        ranked: list[tuple[Product, float]],
        index: AvailabilityIndex,
        analysis: Analysis,
        intent: IntentResult,
        address: LatLng,
        at: datetime,
        promise: int,
    ) -> LandingPage:
        otc_ids = [p.id for p, _ in ranked if p.drug_class is not DrugClass.RX]
        try:
            offers = index.best_offers(address, otc_ids, at, promise_minutes=max(promise, LATE_HORIZON_MINUTES))
        except OutsideServiceArea:
            offers = {}
        child = "child" in analysis.persons
        cards = [_card(p, score, offers.get(p.id), index, child) for p, score in ranked]
        step = self.params.relevance_step
        urgent = intent.intent == "urgent_medicine"

        def order(card: ProductCard) -> tuple[float, ...]:
            eta = card.eta_minutes if card.eta_minutes is not None else 10_000
            if urgent:
                return (card.adult_only, eta, -card.relevance)
            return (card.adult_only, -round(card.relevance / step), eta, -card.relevance)

        otc = sorted((c for c in cards if c.drug_class != "rx"), key=order)
        deliverable = [c for c in otc if c.within_promise][: self.params.page_size]
        later = [c for c in otc if c.eta_minutes is not None and not c.within_promise][: self.params.page_size]
        not_nearby = sum(c.eta_minutes is None for c in otc)
        prescription = [c for c in cards if c.drug_class == "rx"][: self.params.rx_size]
        message = None
        if intent.intent == "non_medical" and not cards:
            message = "药到只卖健康用品，没有找到相关商品 — yaodao sells health products only; nothing matched"
        elif not cards:
            message = "没有找到相关药品，可以问医生 — no matching medicine; ask a doctor"
        elif not deliverable and later:
            message = (
                f"{promise} 分钟内无法送达 — {len(later)} 个商品可在 {LATE_HORIZON_MINUTES} 分钟内送达 · "
                f"nothing deliverable in {promise} min — {len(later)} products within {LATE_HORIZON_MINUTES} min"
            )
        elif not deliverable and not later and otc:
            message = "附近药房暂时无货 — no pharmacy nearby has these in stock right now"
        return replace(
            base,
            deliverable=deliverable,
            later=later,
            prescription=prescription,
            not_nearby=not_nearby,
            ranked=cards,
            ask_doctor=intent.intent != "non_medical",
            message=message,
        )


def _card(
    product: Product, relevance: float, offer: Offer | None, index: AvailabilityIndex, child: bool
) -> ProductCard:
    pharmacy = index.pharmacy(offer.pharmacy_id) if offer else None
    return ProductCard(
        product_id=product.id,
        sku=product.sku,
        name_zh=product.generic_name_zh,
        name_en=product.generic_name_en,
        brand_zh=product.brand_name_zh,
        pack_text_zh=product.pack_text_zh,
        drug_class=product.drug_class.value,
        price_fen=product.price_fen,
        inns=product.inns,
        relevance=relevance,
        adult_only=child and (product.min_age_years or 0) >= 12,
        eta_minutes=offer.eta_minutes if offer else None,
        pharmacy_id=offer.pharmacy_id if offer else None,
        pharmacy_name=pharmacy.name if pharmacy else None,
        open_24h=offer.open_24h if offer else False,
        within_promise=offer.within_promise if offer else False,
        eta_basis=offer.eta_basis if offer else None,
    )
