"""The medical landing page, as data: what the page and its JSON show for one search.

Rules it encodes (DOMAIN S3, RF1, DL1–DL3):
- a red flag shows emergency guidance and nothing to buy;
- OTC products are offered only with a pharmacy that can deliver within the promise now; those
  that only make 60 minutes are listed apart, and the page says so;
- prescription products are listed apart as "needs a prescription", without pack images or
  package inserts, with the way to a doctor;
- an address outside the service area is told so, not shown an empty shelf.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CALL_EMERGENCY = "120"
CRISIS_LINE = "12356"  # national psychological assistance hotline
HEALTH_HOTLINE = "12320"  # public health hotline, for advice when no doctor is online


@dataclass(frozen=True, slots=True)
class Emergency:
    codes: tuple[str, ...]
    call: str = CALL_EMERGENCY
    crisis_line: str | None = None  # set for suicidal thoughts and overdose


@dataclass(frozen=True, slots=True)
class ProductCard:
    product_id: str
    sku: str
    name_zh: str
    name_en: str
    brand_zh: str | None
    pack_text_zh: str
    drug_class: str  # rx | otc_a | otc_b | device
    price_fen: int
    inns: tuple[str, ...]
    relevance: float
    adult_only: bool = False  # not for the child the query names
    eta_minutes: int | None = None
    pharmacy_id: str | None = None
    pharmacy_name: str | None = None
    open_24h: bool = False
    within_promise: bool = False
    eta_basis: str | None = None  # "fleet": the live couriers' reach counted; "model": estimated

    @property
    def badge(self) -> str:
        return {"otc_a": "甲类OTC", "otc_b": "乙类OTC", "rx": "处方药 Rx", "device": "器械"}[self.drug_class]


@dataclass(frozen=True, slots=True)
class LandingPage:
    query: str
    normalized: str
    intent: str
    confidence: float
    entities: dict[str, list[str]]
    city_id: str
    window: str  # day | night
    promise_minutes: int
    local_time: str  # HH:MM, city-local
    emergency: Emergency | None = None
    outside_service_area: bool = False
    deliverable: list[ProductCard] = field(default_factory=list)  # OTC within the promise
    later: list[ProductCard] = field(default_factory=list)  # OTC within 60 minutes, past the promise
    prescription: list[ProductCard] = field(default_factory=list)  # Rx, apart, no purchase before review
    not_nearby: int = 0  # matching OTC products no pharmacy can bring within 60 minutes
    ranked: list[ProductCard] = field(default_factory=list)  # every matched product by relevance
    ask_doctor: bool = True
    message: str | None = None  # the empty state, in words

    @property
    def shopping(self) -> bool:
        return self.emergency is None and not self.outside_service_area
