"""API schemas (pydantic, at the edge only). Unknown fields are refused; numbers are strict."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Strict = ConfigDict(extra="forbid", strict=True)


class Problem(BaseModel):
    """An error answer (RFC 9457 style): what went wrong and, per field, why."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] = Field(default_factory=list)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int


class IngredientIn(BaseModel):
    model_config = Strict
    inn: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    name_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    amount: Annotated[float, Field(gt=0, le=1_000_000, strict=False)] | None = None
    unit: Annotated[str, StringConstraints(max_length=20)] | None = None


DrugClassIn = Literal["rx", "otc_a", "otc_b", "device"]
KindIn = Literal["drug", "device"]
Fen = Annotated[int, Field(strict=True, gt=0, le=100_000_000, description="price in fen (分), a whole number")]


class ProductIn(BaseModel):
    model_config = Strict
    sku: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]
    kind: KindIn = "drug"
    generic_name_zh: Name
    generic_name_en: Name
    brand_name_zh: ShortText | None = None
    brand_name_en: ShortText | None = None
    manufacturer_zh: Name
    ingredients: Annotated[list[IngredientIn], Field(max_length=40)]
    dosage_form: Annotated[str, StringConstraints(max_length=40)]
    strength: ShortText
    pack_size: Annotated[int, Field(strict=True, gt=0, le=10_000)]
    pack_unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    pack_text_zh: ShortText
    drug_class: DrugClassIn
    categories: Annotated[list[str], Field(max_length=10)] = Field(default_factory=list)
    indications_zh: Annotated[list[ShortText], Field(max_length=40)] = Field(default_factory=list)
    indications_en: Annotated[list[ShortText], Field(max_length=40)] = Field(default_factory=list)
    contraindications: Annotated[list[Name], Field(max_length=40)] = Field(default_factory=list)
    min_age_years: Annotated[int, Field(strict=True, ge=0, le=120)] | None = None
    max_per_order: Annotated[int, Field(strict=True, ge=1, le=100)] = 10
    cold_chain: bool = False
    price_fen: Fen
    online_sellable: bool | None = Field(
        default=None, description="omit to take it from the prohibition list; true is refused for listed products"
    )
    approval_no: Annotated[str, StringConstraints(max_length=40)] | None = None
    source: Annotated[str, StringConstraints(max_length=200)] | None = None
    active: bool = True


class ProductPatch(BaseModel):
    model_config = Strict
    expected_version: Annotated[int, Field(strict=True, ge=1)] | None = None
    sku: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")] | None = None
    generic_name_zh: Name | None = None
    generic_name_en: Name | None = None
    brand_name_zh: ShortText | None = None
    brand_name_en: ShortText | None = None
    manufacturer_zh: Name | None = None
    ingredients: Annotated[list[IngredientIn], Field(max_length=40)] | None = None
    dosage_form: Annotated[str, StringConstraints(max_length=40)] | None = None
    strength: ShortText | None = None
    pack_size: Annotated[int, Field(strict=True, gt=0, le=10_000)] | None = None
    pack_unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    pack_text_zh: ShortText | None = None
    drug_class: DrugClassIn | None = None
    categories: Annotated[list[str], Field(max_length=10)] | None = None
    indications_zh: Annotated[list[ShortText], Field(max_length=40)] | None = None
    indications_en: Annotated[list[ShortText], Field(max_length=40)] | None = None
    contraindications: Annotated[list[Name], Field(max_length=40)] | None = None
    min_age_years: Annotated[int, Field(strict=True, ge=0, le=120)] | None = None
    max_per_order: Annotated[int, Field(strict=True, ge=1, le=100)] | None = None
    cold_chain: bool | None = None
    price_fen: Fen | None = None
    online_sellable: bool | None = None
    approval_no: Annotated[str, StringConstraints(max_length=40)] | None = None
    source: Annotated[str, StringConstraints(max_length=200)] | None = None
    active: bool | None = None


class IngredientOut(BaseModel):
    inn: str
    name_zh: str
    amount: float | None
    unit: str | None


class ProductOut(BaseModel):
    id: str
    sku: str
    kind: str
    generic_name_zh: str
    generic_name_en: str
    brand_name_zh: str | None
    brand_name_en: str | None
    manufacturer_zh: str
    ingredients: list[IngredientOut]
    dosage_form: str
    strength: str
    pack_size: int
    pack_unit: str
    pack_text_zh: str
    drug_class: str
    categories: list[str]
    indications_zh: list[str]
    indications_en: list[str]
    contraindications: list[str]
    min_age_years: int | None
    max_per_order: int
    cold_chain: bool
    price_fen: int
    online_sellable: bool
    prohibited_reason: str | None
    pinyin_full: str
    pinyin_initials: str
    approval_no: str | None
    source: str | None
    active: bool
    version: int


class Point(BaseModel):
    model_config = Strict
    lat: Annotated[float, Field(ge=-90, le=90, strict=False)]
    lng: Annotated[float, Field(ge=-180, le=180, strict=False)]


HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class PharmacyIn(BaseModel):
    model_config = Strict
    city_id: Annotated[str, StringConstraints(max_length=40)]
    name: Name
    brand: ShortText
    address: Name
    location: Point
    open_24h: bool = False
    opens: HHMM = "08:00"
    closes: HHMM = "22:00"
    prep_minutes: Annotated[int, Field(strict=True, ge=0, le=240)] = 6
    licence_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    district_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    active: bool = True


class PharmacyPatch(BaseModel):
    model_config = Strict
    expected_version: Annotated[int, Field(strict=True, ge=1)] | None = None
    name: Name | None = None
    brand: ShortText | None = None
    address: Name | None = None
    location: Point | None = None
    open_24h: bool | None = None
    opens: HHMM | None = None
    closes: HHMM | None = None
    prep_minutes: Annotated[int, Field(strict=True, ge=0, le=240)] | None = None
    licence_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    district_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    active: bool | None = None


class PharmacyOut(BaseModel):
    id: str
    city_id: str
    name: str
    brand: str
    district_code: str | None
    address: str
    location: Point
    open_24h: bool
    opens: str
    closes: str
    prep_minutes: int
    licence_no: str
    active: bool
    version: int


class StockIn(BaseModel):
    model_config = Strict
    quantity: Annotated[int, Field(strict=True, ge=0, le=100_000, description="packs on hand")]


class StockOut(BaseModel):
    pharmacy_id: str
    product_id: str
    quantity: int
    reserved: int
    available: int
    version: int


class WindowIn(BaseModel):
    model_config = Strict
    name: ShortText
    start: HHMM
    end: HHMM
    promise_minutes: Annotated[int, Field(strict=True, ge=5, le=1440)]


class GeometryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(max_length=1000)


class CityIn(BaseModel):
    model_config = Strict
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
    name_zh: ShortText
    name_en: ShortText
    timezone: Annotated[str, StringConstraints(max_length=64)]
    datum: Literal["gcj02", "wgs84"]
    service_area: GeometryIn
    windows: Annotated[list[WindowIn], Field(min_length=1, max_length=12)]
    speed_kmh_by_hour: Annotated[list[Annotated[float, Field(strict=False)]], Field(min_length=24, max_length=24)]
    detour_factor: Annotated[float, Field(ge=1.0, le=3.0, strict=False)] = 1.3
    districts: dict[str, Any] | None = Field(default=None, description="optional GeoJSON FeatureCollection")


class CityOut(BaseModel):
    id: str
    name_zh: str
    name_en: str
    timezone: str
    datum: str
    windows: list[dict[str, Any]]
    districts: list[dict[str, str]]
    current_window: str
    current_promise_minutes: int


class LoginIn(BaseModel):
    model_config = Strict
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=200)]
    label: Annotated[str, StringConstraints(max_length=100)] | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user_id: str
    roles: list[str]


class RegisterIn(BaseModel):
    model_config = Strict
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=200)]
    display_name: ShortText


class UserCreateIn(RegisterIn):
    roles: Annotated[
        list[Literal["patient", "doctor", "pharmacist", "store_staff", "courier", "operator", "admin"]],
        Field(min_length=1, max_length=7),
    ]
    pharmacy_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    city_id: Annotated[str, StringConstraints(max_length=40)] | None = None


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    roles: list[str]
    pharmacy_id: str | None
    city_id: str | None


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_of_birth: date | None = None
    sex: Literal["f", "m", "x"] | None = None
    allergies: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)
    current_medicines: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)


class ProfileOut(BaseModel):
    id: str
    display_name: str
    date_of_birth: date | None
    sex: str | None
    allergies: list[str]
    current_medicines: list[str]


class FamilyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ShortText
    relation: Literal["child", "parent", "spouse", "grandparent", "sibling", "other"]
    date_of_birth: date
    sex: Literal["f", "m", "x"] | None = None
    allergies: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)
    current_medicines: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)


class FamilyOut(BaseModel):
    id: str
    name: str
    relation: str
    date_of_birth: date
    sex: str | None
    allergies: list[str]
    current_medicines: list[str]


class AddressIn(BaseModel):
    model_config = Strict
    city_id: Annotated[str, StringConstraints(max_length=40)] = "hangzhou"
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    recipient: ShortText
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=7, max_length=20)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    location: Point
    is_default: bool = False


class AddressOut(BaseModel):
    id: str
    city_id: str
    label: str
    recipient: str
    phone_masked: str
    text: str
    location: Point
    district_code: str | None
    is_default: bool


class AuditOut(BaseModel):
    at: datetime
    actor_id: str | None
    actor_roles: str
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: str | None
    outcome: str


class OfferOut(BaseModel):
    pharmacy_id: str
    pharmacy_name: str
    district_code: str | None
    eta_minutes: int
    distance_km: float
    open_24h: bool
    promise_minutes: int
    within_promise: bool
    eta_basis: str  # "fleet": from the live couriers' reach; "model": prep + ride + handover


class AvailabilityOut(BaseModel):
    city_id: str
    at: datetime
    window: str
    promise_minutes: int
    basket: dict[str, int]
    offers: list[OfferOut]


class ProductCardOut(BaseModel):
    product_id: str
    sku: str
    name_zh: str
    name_en: str
    brand_zh: str | None
    pack_text_zh: str
    drug_class: str
    badge: str
    price_fen: int
    generic_names: list[str]
    adult_only: bool
    eta_minutes: int | None
    pharmacy_id: str | None
    pharmacy_name: str | None
    open_24h: bool
    within_promise: bool
    eta_basis: str | None  # "fleet" | "model"; None without an offer


class EmergencyOut(BaseModel):
    red_flags: list[str]
    call: str
    crisis_line: str | None
    advice: str


class SearchOut(BaseModel):
    query: str
    normalized: str
    intent: Literal["urgent_medicine", "symptom", "drug", "consult", "emergency", "non_medical"]
    confidence: float
    entities: dict[str, list[str]]
    city_id: str
    window: str
    promise_minutes: int
    local_time: str
    emergency: EmergencyOut | None
    outside_service_area: bool
    deliverable: list[ProductCardOut] = Field(description="OTC products deliverable within the promise, best first")
    later: list[ProductCardOut] = Field(description="OTC products deliverable within 60 minutes only")
    prescription: list[ProductCardOut] = Field(description="Rx products: need a prescription and pharmacist review")
    not_nearby: int
    ask_doctor: bool
    message: str | None
