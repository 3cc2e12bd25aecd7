"""A pure, seeded generator of a realistic pharmacy chain network for a city.

The network feeds the simulator, demos and tests until real store data is loaded. Stores are
spread over districts by district weight (density), clustered around each district's urban
cores with a Gaussian spread, and placed by rejection sampling inside the district polygon, so
every store lies inside both its district and the city's service area.

Cores and road names are hand-written for Hangzhou, keyed by adcode (codes are unique across
China, so another city's entries can sit beside them). A district without entries falls back to
its polygon centroid and common road names: a new city needs no code to get a network.
"""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from typing import NamedTuple, NoReturn

from yaodao.catalog.model import OpeningHours, Pharmacy
from yaodao.kernel.city import City
from yaodao.kernel.errors import ValidationFailed
from yaodao.kernel.geo import LatLng, bbox, point_in_ring

FORMAT_KEY = "format"  # Pharmacy.extra key: a StoreFormat value
COLD_CHAIN_KEY = "cold_chain"  # Pharmacy.extra key: "true" when the store has a pharmacy fridge (2-8 °C)
KM_PER_DEGREE_LAT = 111.32
MAX_STORES = 9999  # ids and licence serials have four digits


class StoreFormat(enum.StrEnum):
    FLAGSHIP = "flagship"  # 旗舰店: large floor, widest range
    STANDARD = "standard"
    COMMUNITY = "community"  # 社区店: small neighbourhood store


@dataclass(frozen=True, slots=True)
class NetworkParams:
    total: int = 180
    min_24h: int = 24
    share_24h: float = 0.12  # the network has max(min_24h, round(total * share_24h)) 24-hour stores
    min_per_district: int = 2
    populous_weight_share: float = 0.04  # a district with this share of the city's weight gets a 24-hour store
    downtown_density_ratio: float = 0.3  # downtown: weight per km² at least this ratio of the densest district's
    scatter_share: float = 0.1  # stores anywhere in their district (townships), not around an urban core
    flagship_share: float = 0.15
    community_share: float = 0.35  # of the stores that are not flagships
    cold_chain_share: float = 0.3
    prep_minutes_min: int = 4
    prep_minutes_max: int = 10
    licence_prefix: str = "浙CA5710"  # province, class (C: chain store), area code 0571; then a 4-digit serial

    def __post_init__(self) -> None:
        if not 1 <= self.total <= MAX_STORES:
            _invalid("total", f"must be between 1 and {MAX_STORES}")
        if not 0 <= self.min_24h <= self.total:
            _invalid("min_24h", "must be between 0 and total")
        if self.min_per_district < 0:
            _invalid("min_per_district", "must not be negative")
        for name in (
            "share_24h",
            "populous_weight_share",
            "downtown_density_ratio",
            "scatter_share",
            "flagship_share",
            "community_share",
            "cold_chain_share",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                _invalid(name, "must be a share between 0 and 1")
        if not 1 <= self.prep_minutes_min <= self.prep_minutes_max <= 120:
            _invalid("prep_minutes_min", "need 1 <= prep_minutes_min <= prep_minutes_max <= 120")
        if not self.licence_prefix.strip():
            _invalid("licence_prefix", "must not be empty")

    @property
    def count_24h(self) -> int:
        return min(self.total, max(self.min_24h, round(self.total * self.share_24h)))


def _invalid(field: str, message: str) -> NoReturn:
    raise ValidationFailed(f"{field}: {message}", field=field)


class Core(NamedTuple):
    """An urban core stores cluster around; ``sigma_km`` is the spread per axis."""

    name: str
    lng: float  # in the city's datum (GCJ-02 for Hangzhou)
    lat: float
    sigma_km: float
    share: float


# Hangzhou's urban cores per division (GCJ-02, from Amap positions of each area's centre).
DISTRICT_CORES: dict[str, tuple[Core, ...]] = {
    "330102": (
        Core("湖滨", 120.168, 30.252, 1.2, 2.0),
        Core("钱江新城", 120.215, 30.250, 1.5, 2.0),
        Core("采荷", 120.195, 30.265, 1.5, 2.0),
        Core("笕桥", 120.225, 30.330, 2.0, 1.5),
    ),
    "330105": (
        Core("武林", 120.168, 30.285, 1.8, 3.0),
        Core("大关", 120.145, 30.310, 1.8, 2.0),
        Core("祥符", 120.140, 30.330, 1.5, 1.0),
    ),
    "330106": (
        Core("黄龙", 120.135, 30.280, 1.5, 3.0),
        Core("文新", 120.100, 30.290, 1.8, 2.0),
        Core("三墩", 120.090, 30.325, 2.0, 1.5),
        Core("留下", 120.065, 30.245, 1.2, 0.7),
        Core("转塘", 120.095, 30.155, 2.0, 1.0),
    ),
    "330108": (Core("西兴", 120.210, 30.208, 1.8, 2.0), Core("长河", 120.190, 30.190, 1.6, 1.5)),
    "330109": (
        Core("城厢", 120.265, 30.165, 2.2, 3.0),
        Core("宁围", 120.270, 30.220, 2.0, 1.5),
        Core("瓜沥", 120.460, 30.180, 1.5, 0.8),
        Core("临浦", 120.260, 29.980, 1.2, 0.5),
    ),
    "330110": (
        Core("未来科技城", 120.000, 30.290, 2.5, 2.5),
        Core("良渚", 120.050, 30.380, 2.0, 1.5),
        Core("余杭街道", 119.930, 30.270, 1.5, 1.0),
        Core("闲林", 120.020, 30.250, 1.5, 0.8),
        Core("瓶窑", 119.970, 30.390, 1.2, 0.5),
    ),
    "330113": (Core("临平", 120.300, 30.420, 2.0, 3.0), Core("乔司", 120.280, 30.350, 1.5, 1.0)),
    "330114": (Core("下沙", 120.350, 30.310, 2.5, 3.0), Core("义蓬", 120.500, 30.280, 2.0, 1.0)),
    "330111": (Core("富春", 119.960, 30.050, 2.0, 3.0), Core("新登", 119.730, 29.980, 1.2, 0.6)),
    "330112": (Core("锦城", 119.720, 30.230, 2.0, 3.0), Core("於潜", 119.410, 30.220, 1.2, 0.6)),
    "330122": (Core("桐庐城区", 119.690, 29.800, 1.8, 3.0), Core("分水", 119.430, 29.920, 1.0, 0.5)),
    "330127": (Core("千岛湖镇", 119.040, 29.610, 1.5, 3.0),),
    "330182": (Core("新安江", 119.280, 29.480, 1.8, 3.0), Core("梅城", 119.470, 29.550, 1.0, 0.5)),
}

# Real roads of each Hangzhou division, for store names and addresses (not tied to the store's point).
_ROADS: dict[str, str] = {
    "330102": "解放路 庆春路 清泰街 中山中路 望江路 秋涛路 凯旋路 钱江路 富春路 新塘路 景昙路",
    "330105": "莫干山路 湖墅南路 大关路 上塘路 登云路 石祥路 丽水路 东新路 体育场路 朝晖路",
    "330106": "文三路 文二路 文一西路 天目山路 学院路 教工路 古墩路 西溪路 紫金港路 留和路",
    "330108": "江南大道 滨盛路 江陵路 西兴路 长河路 滨安路 江汉路 闻涛路 火炬大道",
    "330109": "市心中路 人民路 金城路 育才路 山阴路 萧绍路 建设一路 通惠中路 风情大道",
    "330110": "文一西路 五常大道 余杭塘路 良睦路 海曙路 禹航路 文二西路",
    "330113": "人民大道 迎宾路 世纪大道 藕花洲大街 星光街 东湖路",
    "330114": "金沙大道 学林街 学源街 文泽路 文渊路 下沙路",
    "330111": "金桥北路 江滨西大道 恩波大道 桂花路 体育馆路 春秋北路",
    "330112": "钱王街 衣锦街 城中街 万马路 苕溪北街 石镜街",
    "330122": "迎春南路 学圣路 白云源路 春江路 桐君路",
    "330127": "新安大街 环湖北路 千岛湖大道 梦姑路 排岭北路",
    "330182": "新安路 严州大道 江滨中路 府东街 新安江路",
}
DISTRICT_ROADS: dict[str, tuple[str, ...]] = {code: tuple(text.split()) for code, text in _ROADS.items()}
COMMON_ROADS = ("人民路", "中山路", "解放路", "建设路", "文化路", "新华路", "和平路", "胜利路")


class Brand(NamedTuple):
    name: str
    share: float
    downtown_only: bool = False  # the heritage TCM houses keep to the old city and the CBDs


# Chains with stores in Hangzhou; shares are rough, for realism only.
BRANDS: tuple[Brand, ...] = (
    Brand("老百姓大药房", 0.20),
    Brand("海王星辰", 0.15),
    Brand("九州大药房", 0.14),
    Brand("华东大药房", 0.12),
    Brand("益丰大药房", 0.10),
    Brand("天天好大药房", 0.08),
    Brand("第一医药", 0.06),
    Brand("张同泰", 0.06, downtown_only=True),
    Brand("方回春堂", 0.05, downtown_only=True),
    Brand("胡庆余堂国药号", 0.04, downtown_only=True),
)

_HOURS_DOWNTOWN = ((time(8, 0), time(22, 0), 0.6), (time(7, 30), time(22, 30), 0.25), (time(8, 0), time(21, 0), 0.15))
_HOURS_ELSEWHERE = ((time(8, 0), time(22, 0), 0.5), (time(7, 30), time(22, 30), 0.1), (time(8, 0), time(21, 0), 0.4))
_AROUND_THE_CLOCK = OpeningHours(time(0, 0), time(0, 0))
_ORDINALS = "一二三四五六七八九十"


@dataclass(frozen=True, slots=True)
class _Area:
    """A district (or, for a city without districts, its whole service area)."""

    code: str | None
    name_zh: str
    rings: tuple[tuple[tuple[float, float], ...], ...]
    weight: float
    area_km2: float
    cores: tuple[Core, ...]
    roads: tuple[str, ...]

    @property
    def density(self) -> float:
        return self.weight / self.area_km2 if self.area_km2 > 0 else 0.0


@dataclass(slots=True)
class _Draft:
    area: _Area
    location: LatLng
    open_24h: bool = False
    fmt: StoreFormat = StoreFormat.STANDARD
    cold_chain: bool = False


def generate_pharmacies(city: City, *, seed: int, params: NetworkParams) -> list[Pharmacy]:
    """``params.total`` stores for ``city``; the same city, seed and params give the same list."""
    rng = random.Random(f"yaodao.network:{city.id}:{seed}")
    areas = _areas(city)
    if params.total < params.min_per_district * len(areas):
        _invalid("total", f"{city.id} has {len(areas)} districts: total must be at least min_per_district for each")
    counts = _allocate(params.total, [a.weight for a in areas], params.min_per_district)
    drafts = [
        _Draft(area, _place(city, area, rng, params)) for area, n in zip(areas, counts, strict=True) for _ in range(n)
    ]

    max_density = max(a.density for a in areas)
    downtown = {a.code for a in areas if a.density >= params.downtown_density_ratio * max_density}
    _choose_24h(drafts, areas, rng, params)
    _choose_formats(drafts, downtown, rng, params)

    names: Counter[tuple[str, str]] = Counter()
    serials = rng.sample(range(1, 10000), params.total)
    pharmacies: list[Pharmacy] = []
    for i, draft in enumerate(drafts):
        is_downtown = draft.area.code in downtown
        brand = _pick_brand(rng, is_downtown)
        road = rng.choice(draft.area.roads)
        names[(brand, road)] += 1
        nth = names[(brand, road)]  # a second store of a brand on one road is its 二店
        branch = road if nth == 1 else f"{road}{_ORDINALS[nth - 1] if nth <= 10 else nth}"
        number = rng.randint(1, 680)
        hours = _AROUND_THE_CLOCK if draft.open_24h else _pick_hours(rng, is_downtown)
        pharmacies.append(
            Pharmacy(
                id=f"ph-{city.id}-{i + 1:04d}",
                city_id=city.id,
                name=f"{brand}({branch}店)",
                brand=brand,
                district_code=draft.area.code,
                address=f"{city.name_zh}市{draft.area.name_zh}{road}{number}号",
                location=draft.location,
                open_24h=draft.open_24h,
                hours=hours,
                prep_minutes=rng.randint(params.prep_minutes_min, params.prep_minutes_max),
                licence_no=f"{params.licence_prefix}{serials[i]:04d}",
                extra={FORMAT_KEY: draft.fmt.value, COLD_CHAIN_KEY: "true" if draft.cold_chain else "false"},
            )
        )
    return pharmacies


def store_format(pharmacy: Pharmacy) -> StoreFormat:
    """The store's format from ``extra``; stores loaded without one count as standard."""
    try:
        return StoreFormat(pharmacy.extra.get(FORMAT_KEY, StoreFormat.STANDARD))
    except ValueError:
        return StoreFormat.STANDARD


def is_cold_chain_capable(pharmacy: Pharmacy) -> bool:
    """Only a store flagged for it keeps 2-8 °C products: unflagged means no fridge."""
    return pharmacy.extra.get(COLD_CHAIN_KEY) == "true"


def _areas(city: City) -> list[_Area]:
    if not city.districts:
        rings = city.service_area
        return [_Area(None, "", rings, 1.0, _area_km2(rings), (), COMMON_ROADS)]
    return [
        _Area(
            d.code,
            d.name_zh,
            d.rings,
            d.weight,
            _area_km2(d.rings),
            DISTRICT_CORES.get(d.code, ()),
            DISTRICT_ROADS.get(d.code, COMMON_ROADS),
        )
        for d in sorted(city.districts, key=lambda d: d.code)
    ]


def _allocate(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    """``minimum`` each, the rest in proportion to weight (largest remainder, ties to the first)."""
    counts = [minimum] * len(weights)
    rest = total - minimum * len(weights)
    weight_sum = sum(weights)
    if rest <= 0 or weight_sum <= 0:
        return counts
    quotas = [rest * w / weight_sum for w in weights]
    for i, q in enumerate(quotas):
        counts[i] += math.floor(q)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _place(city: City, area: _Area, rng: random.Random, params: NetworkParams) -> LatLng:
    min_lng, min_lat, max_lng, max_lat = bbox(area.rings)
    cores = area.cores or (_fallback_core(city, area, rng),)
    if rng.random() >= params.scatter_share:
        core = rng.choices(cores, weights=[c.share for c in cores])[0]
        km_per_degree_lng = KM_PER_DEGREE_LAT * math.cos(math.radians(core.lat))
        for _ in range(500):
            lat = round(core.lat + rng.gauss(0.0, core.sigma_km) / KM_PER_DEGREE_LAT, 6)
            lng = round(core.lng + rng.gauss(0.0, core.sigma_km) / km_per_degree_lng, 6)
            if min_lat <= lat <= max_lat and min_lng <= lng <= max_lng and _inside(city, area, LatLng(lat, lng)):
                return LatLng(lat, lng)
    for _ in range(20_000):  # township store, or a core that hugs the border: anywhere in the district
        point = LatLng(round(rng.uniform(min_lat, max_lat), 6), round(rng.uniform(min_lng, max_lng), 6))
        if _inside(city, area, point):
            return point
    raise ValidationFailed(f"district {area.code} has no room inside the service area", field=f"districts[{area.code}]")


def _inside(city: City, area: _Area, point: LatLng) -> bool:
    if not any(point_in_ring(point, ring) for ring in area.rings) or not city.contains(point):
        return False
    # Shared borders may fall either way; insist that the city files the point under this district.
    return area.code is None or ((d := city.district_of(point)) is not None and d.code == area.code)


def _fallback_core(city: City, area: _Area, rng: random.Random) -> Core:
    lng, lat = _centroid(area.rings)
    if not _inside(city, area, LatLng(lat, lng)):  # a crescent-shaped district: any inner point will do
        min_lng, min_lat, max_lng, max_lat = bbox(area.rings)
        for _ in range(20_000):
            lng, lat = rng.uniform(min_lng, max_lng), rng.uniform(min_lat, max_lat)
            if _inside(city, area, LatLng(lat, lng)):
                break
    sigma = min(6.0, max(0.8, math.sqrt(area.area_km2) / 4))
    return Core("centroid", lng, lat, sigma, 1.0)


def _choose_24h(drafts: list[_Draft], areas: Sequence[_Area], rng: random.Random, params: NetworkParams) -> None:
    """One in each populous district first, the rest weighted by density: mostly downtown."""
    wanted = params.count_24h
    total_weight = sum(a.weight for a in areas) or 1.0
    populous = sorted(
        (a for a in areas if a.weight / total_weight >= params.populous_weight_share), key=lambda a: -a.weight
    )
    for area in populous[:wanted]:
        rng.choice([d for d in drafts if d.area is area]).open_24h = True
    rest = [d for d in drafts if not d.open_24h]
    for d in _weighted_sample(rest, [d.area.density for d in rest], wanted - sum(d.open_24h for d in drafts), rng):
        d.open_24h = True


def _choose_formats(drafts: list[_Draft], downtown: set[str | None], rng: random.Random, params: NetworkParams) -> None:
    bonus = [(2.0 if d.open_24h else 1.0) * (1.5 if d.area.code in downtown else 1.0) for d in drafts]
    for d in _weighted_sample(drafts, bonus, round(len(drafts) * params.flagship_share), rng):
        d.fmt = StoreFormat.FLAGSHIP
    for d in drafts:
        if d.fmt is not StoreFormat.FLAGSHIP and not d.open_24h and rng.random() < params.community_share:
            d.fmt = StoreFormat.COMMUNITY
    fridge = [(2.0 if d.open_24h else 1.0) * (2.0 if d.fmt is StoreFormat.FLAGSHIP else 1.0) for d in drafts]
    for d in _weighted_sample(drafts, fridge, round(len(drafts) * params.cold_chain_share), rng):
        d.cold_chain = True


def _weighted_sample(items: Sequence[_Draft], weights: Sequence[float], k: int, rng: random.Random) -> list[_Draft]:
    """``k`` distinct items, each drawn with probability in proportion to its weight (Efraimidis-Spirakis)."""
    if k <= 0:
        return []
    keys = [(-math.log(1.0 - rng.random()) / max(w, 1e-12), i) for i, w in enumerate(weights)]
    return [items[i] for _, i in sorted(keys)[:k]]


def _pick_brand(rng: random.Random, downtown: bool) -> str:
    brands = [b for b in BRANDS if downtown or not b.downtown_only]
    return rng.choices(brands, weights=[b.share for b in brands])[0].name


def _pick_hours(rng: random.Random, downtown: bool) -> OpeningHours:
    table = _HOURS_DOWNTOWN if downtown else _HOURS_ELSEWHERE
    opens, closes, _ = rng.choices(table, weights=[w for *_, w in table])[0]
    return OpeningHours(opens, closes)


def _area_km2(rings: Sequence[Sequence[tuple[float, float]]]) -> float:
    """Planar shoelace area in a local equirectangular projection: ample for city-sized polygons."""
    total = 0.0
    for ring in rings:
        lat0 = math.radians(sum(p[1] for p in ring) / len(ring))
        kx, ky = KM_PER_DEGREE_LAT * math.cos(lat0), KM_PER_DEGREE_LAT
        s = sum(
            (ring[i][0] * kx) * (ring[i + 1][1] * ky) - (ring[i + 1][0] * kx) * (ring[i][1] * ky)
            for i in range(len(ring) - 1)
        )
        total += abs(s) / 2
    return total


def _centroid(rings: Sequence[Sequence[tuple[float, float]]]) -> tuple[float, float]:
    """Area-weighted centroid (lng, lat) of the largest ring, in degrees."""
    ring = max(rings, key=lambda r: _area_km2([r]))
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if a == 0:
        return ring[0]
    return cx / (3 * a), cy / (3 * a)
