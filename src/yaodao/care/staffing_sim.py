"""A staffing simulation of online consultations: demand by region and hour against a roster.

Event-driven, on a simulated clock, pure and seeded. Demand follows a 24-hour curve and is
weighted toward provinces with fewer doctors per 1,000 people; online doctors come from every
province in proportion to its doctors, in staggered sessions sized hour by hour by square-root
staffing, so fewer are on duty at night. The real queue (``care.queue``) and matcher (``care.matching``) run
on it, once matching across regions and once with the regional baseline, against the same
demand and the same roster. Consultation lengths, patience and each doctor's answer to each
offer are drawn from seeded distributions; an answer is a hash of (seed, consultation, doctor),
so the two policies see the same doctor behave the same way.

A consultation's wait is the time from its request to the first doctor reply (DOMAIN.md C1);
one abandoned before any reply counts as an infinite wait, so it can only push percentiles up.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import NormalDist
from zoneinfo import ZoneInfo

from yaodao.care.doctors import CONSULT_DEPARTMENTS, Doctor, DoctorLoad, RosterShift
from yaodao.care.matching import MatchParams, match, match_within_region
from yaodao.care.queue import ConsultQueue, ServiceStats, Urgency, WaitingConsult, estimated_wait
from yaodao.kernel.clock import ManualClock
from yaodao.kernel.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class Region:
    province: str
    city: str  # the provincial capital, where the region's patients and doctors are placed
    name_en: str
    population_10k: int  # year-end population, in 10,000 people
    doctors_per_1000: float  # licensed physicians (执业医师) per 1,000 people


# Licensed physicians per 1,000 people and population by province, 2018, from the China Health
# Statistics Yearbook 2019 as tabulated in Yu H. et al., "Equity analysis of Chinese physician
# allocation based on Gini coefficient and Theil index", BMC Health Services Research 21, 455
# (2021), Table 1: https://bmchealthservres.biomedcentral.com/articles/10.1186/s12913-021-06348-w/tables/1
# (the 31-province average there is 2.62; its population column is in units of 10,000 although
# labelled x10^3). Figures that also count assistant physicians are higher (3.15 per 1,000
# nationally in 2022, NHC statistical bulletin for 2022 as reported by Xinhua).
REGIONS: tuple[Region, ...] = (
    Region("beijing", "beijing", "Beijing", 2154, 4.63),
    Region("zhejiang", "hangzhou", "Zhejiang", 5737, 3.33),
    Region("shanghai", "shanghai", "Shanghai", 2424, 2.95),
    Region("sichuan", "chengdu", "Sichuan", 8341, 2.46),
    Region("henan", "zhengzhou", "Henan", 9605, 2.45),
    Region("guangdong", "guangzhou", "Guangdong", 11346, 2.44),
    Region("tibet", "lhasa", "Tibet", 344, 2.42),
    Region("gansu", "lanzhou", "Gansu", 2637, 2.26),
    Region("guizhou", "guiyang", "Guizhou", 3600, 2.26),
    Region("yunnan", "kunming", "Yunnan", 4830, 2.06),
    Region("jiangxi", "nanchang", "Jiangxi", 4648, 1.88),
)
# Requests per local hour as a share of the peak hour: a quiet night, a morning peak, a lull at
# lunch and the evening peak after work, when most online consultations happen.
HOURLY_CURVE: tuple[float, ...] = (
    0.45, 0.28, 0.18, 0.13, 0.11, 0.13, 0.22, 0.42, 0.68, 0.88, 0.97, 0.92,
    0.72, 0.72, 0.85, 0.88, 0.85, 0.78, 0.75, 0.85, 0.97, 1.00, 0.88, 0.68,
)  # fmt: skip
DEPARTMENT_MIX: tuple[tuple[str, float], ...] = (
    ("internal_medicine", 0.20), ("paediatrics", 0.12), ("dermatology", 0.11), ("obstetrics_gynaecology", 0.10),
    ("gastroenterology", 0.06), ("respiratory", 0.06), ("ent", 0.05), ("urology_andrology", 0.05),
    ("endocrinology", 0.05), ("cardiology", 0.05), ("orthopaedics_surgery", 0.05), ("psychiatry", 0.04),
    ("neurology", 0.03), ("ophthalmology", 0.03),
)  # fmt: skip
# Subspecialists who also see general internal-medicine patients.
INTERNAL_SUBSPECIALTIES = frozenset({"gastroenterology", "respiratory", "cardiology", "endocrinology"})
ENGLISH_PROVINCES = frozenset({"beijing", "shanghai", "guangdong", "zhejiang"})
SHANGHAI_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class SimParams:
    hours: int = 24
    peak_per_hour: int = 2000  # requests in the busiest hour: the design load
    start: datetime = datetime(2026, 3, 2, tzinfo=SHANGHAI_TZ)  # local midnight; the curve is local time
    regions: tuple[Region, ...] = REGIONS
    hourly_curve: tuple[float, ...] = HOURLY_CURVE
    department_mix: tuple[tuple[str, float], ...] = DEPARTMENT_MIX
    demand_tilt: float = 1.0  # demand ∝ population x (average density / province density) ** tilt
    urgent_share: float = 0.05
    soon_share: float = 0.15
    english_share: float = 0.01  # of patients in ENGLISH_PROVINCES who ask for an English-speaking doctor
    service_median_s: float = 480.0  # consultation length (text chat), log-normal
    service_sigma: float = 0.6
    reply_median_s: float = 12.0  # a doctor's time to accept an offer, log-normal around the doctor's own median
    reply_sigma: float = 0.6
    doctor_speed_sigma: float = 0.3  # spread of doctors' own median reply times
    decline_rate: float = 0.03  # offers a doctor declines outright
    patience_median_s: float = 600.0  # time a patient waits for a first reply before giving up, log-normal
    patience_sigma: float = 0.7
    max_concurrent: int = 3  # consultations a doctor holds at once
    session_hours: int = 4  # rostered online sessions
    # slots = load + beta x sqrt(load), per department and hour. At 2.0 almost every patient is offered a doctor at
    # the first matcher run, so each region's p90 is a doctor's reply time; with less, the p90 is queueing, whose
    # bursts make the p90 of a small region (Tibet: ~200 requests a day) swing from seed to seed.
    staffing_beta: float = 2.0
    min_doctors: int = 2  # per department at every hour: one decline must not strand a patient
    internist_share: float = 0.3  # subspecialists who also take internal-medicine patients
    english_doctor_share: float = 0.2  # doctors speaking English in ENGLISH_PROVINCES (a quarter of that elsewhere)
    match_interval_s: float = 2.0  # the matcher runs this often while someone waits
    match: MatchParams = field(default_factory=MatchParams)

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise ValidationFailed(f"{name}: {message}", field=name)

        need(1 <= self.hours <= 24 * 14, "hours", "must be between 1 and 336")
        need(1 <= self.peak_per_hour <= 100_000, "peak_per_hour", "must be between 1 and 100000")
        need(self.start.tzinfo is not None and self.start.utcoffset() is not None, "start", "must be timezone-aware")
        need(bool(self.regions), "regions", "needs at least one region")
        need(len({r.province for r in self.regions}) == len(self.regions), "regions", "provinces must be distinct")
        need(
            all(r.population_10k > 0 and 0 < r.doctors_per_1000 < 50 for r in self.regions),
            "regions",
            "populations must be positive and densities between 0 and 50 per 1,000",
        )
        need(len(self.hourly_curve) == 24, "hourly_curve", "needs one share per local hour")
        need(
            all(0 <= s <= 1 for s in self.hourly_curve) and max(self.hourly_curve) > 0,
            "hourly_curve",
            "shares must be between 0 and 1 with a positive peak",
        )
        need(bool(self.department_mix), "department_mix", "needs at least one department")
        need(
            all(d in CONSULT_DEPARTMENTS and w > 0 for d, w in self.department_mix),
            "department_mix",
            "needs bookable department codes with positive weights",
        )
        for name in ("urgent_share", "soon_share", "english_share", "decline_rate", "internist_share"):
            need(0.0 <= getattr(self, name) <= 1.0, name, "must be a share between 0 and 1")
        need(0.0 <= self.english_doctor_share <= 1.0, "english_doctor_share", "must be a share between 0 and 1")
        need(self.urgent_share + self.soon_share <= 1.0, "soon_share", "urgent_share + soon_share must be <= 1")
        for name in ("service_median_s", "reply_median_s", "patience_median_s", "match_interval_s"):
            value = getattr(self, name)
            need(math.isfinite(value) and 0 < value <= 86_400, name, "must be between 0 and 86400 seconds")
        for name in ("service_sigma", "reply_sigma", "doctor_speed_sigma", "patience_sigma", "demand_tilt"):
            need(math.isfinite(getattr(self, name)) and 0 <= getattr(self, name) <= 3, name, "must be between 0 and 3")
        need(1 <= self.max_concurrent <= 20, "max_concurrent", "must be between 1 and 20")
        need(1 <= self.session_hours <= 12, "session_hours", "must be between 1 and 12")
        need(1 <= self.min_doctors <= 100, "min_doctors", "must be between 1 and 100")
        need(
            math.isfinite(self.staffing_beta) and 0 <= self.staffing_beta <= 10,
            "staffing_beta",
            "must be between 0 and 10",
        )

    @property
    def mean_service_s(self) -> float:
        return self.service_median_s * math.exp(self.service_sigma**2 / 2)

    @property
    def mean_reply_s(self) -> float:
        return self.reply_median_s * math.exp((self.reply_sigma**2 + self.doctor_speed_sigma**2) / 2)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request, identical for both policies."""

    id: str
    t: float  # seconds after the start
    region: int  # index into SimParams.regions
    department: str
    language: str
    urgency: Urgency
    patience_s: float
    service_s: float


@dataclass(frozen=True, slots=True)
class Roster:
    doctors: tuple[Doctor, ...]
    shifts: tuple[RosterShift, ...]
    reply_median_s: dict[str, float]  # each doctor's own median time to accept


@dataclass(slots=True)
class PolicyResult:
    policy: str
    waits: list[float]  # per arrival, seconds to first reply; math.inf when abandoned
    utilisation: float  # consultation-seconds held / rostered slot-seconds, within the simulated hours
    offers: int = 0
    declined: int = 0
    timed_out: int = 0
    cross_region: int = 0  # replies from a doctor of another province
    estimate_errors: list[float] = field(default_factory=list)  # |estimated - actual| wait, seconds


@dataclass(frozen=True, slots=True)
class SimResult:
    params: SimParams
    seed: int
    arrivals: tuple[Arrival, ...]
    roster: Roster
    national: PolicyResult
    regional: PolicyResult


def demand_weights(regions: tuple[Region, ...], tilt: float) -> list[float]:
    """Each region's share of requests: population, tilted toward fewer doctors per 1,000."""
    people = sum(r.population_10k for r in regions)
    average = sum(r.population_10k * r.doctors_per_1000 for r in regions) / people
    raw = [r.population_10k * (average / r.doctors_per_1000) ** tilt for r in regions]
    return [w / sum(raw) for w in raw]


def generate_demand(params: SimParams, seed: int) -> tuple[Arrival, ...]:
    """Requests over ``params.hours``: a Poisson process whose rate follows the hourly curve."""
    rng = random.Random(f"demand:{seed}")
    regions = list(range(len(params.regions)))
    region_cum = _cumulative(demand_weights(params.regions, params.demand_tilt))
    departments = [d for d, _ in params.department_mix]
    department_cum = _cumulative([w for _, w in params.department_mix])
    hour0 = params.start.hour
    out: list[Arrival] = []
    for hour in range(params.hours):
        rate = params.peak_per_hour * params.hourly_curve[(hour0 + hour) % 24] / 3600.0
        t = hour * 3600.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= (hour + 1) * 3600.0:
                break
            region = rng.choices(regions, cum_weights=region_cum)[0]
            english = params.regions[region].province in ENGLISH_PROVINCES and rng.random() < params.english_share
            u = rng.random()
            urgency = Urgency.URGENT if u < params.urgent_share else Urgency.ROUTINE
            if params.urgent_share <= u < params.urgent_share + params.soon_share:
                urgency = Urgency.SOON
            out.append(
                Arrival(
                    id=f"c{len(out):06d}",
                    t=t,
                    region=region,
                    department=rng.choices(departments, cum_weights=department_cum)[0],
                    language="en" if english else "zh",
                    urgency=urgency,
                    patience_s=rng.lognormvariate(math.log(params.patience_median_s), params.patience_sigma),
                    service_s=rng.lognormvariate(math.log(params.service_median_s), params.service_sigma),
                )
            )
    return tuple(out)


def doctors_needed(params: SimParams) -> dict[str, list[int]]:
    """Doctors each department needs on duty in each simulated hour.

    Slots = a + beta x sqrt(a) (square-root staffing), where a = requests per second x (mean
    length + mean reply) is the offered load, in consultations held at once; never fewer than
    ``min_doctors``, so every department is covered around the clock.
    """
    hold_s = params.mean_service_s + params.mean_reply_s
    total = sum(w for _, w in params.department_mix)
    out: dict[str, list[int]] = {}
    for department, weight in params.department_mix:
        hourly: list[int] = []
        for h in range(params.hours):
            rate = params.peak_per_hour * params.hourly_curve[(params.start.hour + h) % 24] * weight / total
            load = rate / 3600.0 * hold_s
            slots = load + params.staffing_beta * math.sqrt(load)
            hourly.append(max(params.min_doctors, math.ceil(slots / params.max_concurrent)))
        out[department] = hourly
    return out


def build_roster(params: SimParams, seed: int) -> Roster:
    """Staggered sessions that meet :func:`doctors_needed` hour by hour.

    Sessions start on the hour: whenever a department has fewer doctors on duty than it needs,
    new sessions start. The last sessions run past the simulated hours, so the queue drains.
    Each department always has an English-speaking doctor on duty when any patient may ask for one.
    Doctors come from every province in proportion to its licensed physicians.
    """
    rng = random.Random(f"roster:{seed}")
    regions = list(params.regions)
    supply_cum = _cumulative([r.population_10k * r.doctors_per_1000 for r in regions])
    session = params.session_hours
    doctors: list[Doctor] = []
    shifts: list[RosterShift] = []
    medians: dict[str, float] = {}
    for department, needed in doctors_needed(params).items():
        ends: list[int] = []  # end hour of each session started so far
        english_until = 0
        for h, need in enumerate(needed):
            starting = max(0, need - sum(1 for e in ends if e > h))
            if params.english_share > 0 and english_until <= h:
                starting = max(starting, 1)
            for i in range(starting):
                region = rng.choices(regions, cum_weights=supply_cum)[0]
                english = rng.random() < params.english_doctor_share * (
                    1.0 if region.province in ENGLISH_PROVINCES else 0.25
                )
                if i == 0 and params.english_share > 0 and english_until <= h:
                    english = True
                if english:
                    english_until = max(english_until, h + session)
                departments: tuple[str, ...] = (department,)
                if department in INTERNAL_SUBSPECIALTIES and rng.random() < params.internist_share:
                    departments = (department, "internal_medicine")
                doctor = Doctor(
                    id=f"dr-{department}-{h:03d}-{i:02d}",
                    licence_no=str(rng.randrange(10**14, 10**15)),
                    hospital=f"{region.name_en} People's Hospital No. {rng.randint(1, 9)}",
                    province=region.province,
                    city=region.city,
                    departments=departments,
                    languages=("zh", "en") if english else ("zh",),
                    verified=True,
                    years_practising=rng.randint(3, 30),
                    max_concurrent=params.max_concurrent,
                    rating=round(rng.uniform(4.0, 5.0), 2),
                    ratings=rng.randint(1, 400),
                )
                begins = params.start + timedelta(hours=h)
                doctors.append(doctor)
                shifts.append(RosterShift(doctor.id, begins, begins + timedelta(hours=session)))
                medians[doctor.id] = params.reply_median_s * math.exp(rng.gauss(0.0, params.doctor_speed_sigma))
                ends.append(h + session)
    return Roster(tuple(doctors), tuple(shifts), medians)


def simulate(params: SimParams, seed: int) -> SimResult:
    """Both policies on the same demand and roster."""
    arrivals = generate_demand(params, seed)
    roster = build_roster(params, seed)
    national = _Run(params, seed, arrivals, roster, regional=False).run()
    regional = _Run(params, seed, arrivals, roster, regional=True).run()
    return SimResult(params, seed, arrivals, roster, national, regional)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; ``nan`` when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100.0 * len(ordered)) - 1)]


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


_NORMAL = NormalDist()
_SHIFT_END, _SHIFT_START, _DONE, _OFFER_FAILED, _REPLY, _ABANDON, _ARRIVE = range(7)


class _Run:
    """One policy over the whole horizon: an event heap, the queue, and the doctors' loads."""

    def __init__(self, params: SimParams, seed: int, arrivals: tuple[Arrival, ...], roster: Roster, *, regional: bool):
        self.p, self.seed, self.arrivals, self.roster, self.regional = params, seed, arrivals, roster, regional
        self.clock = ManualClock(params.start)
        self.queue = ConsultQueue()
        self.doctors = {d.id: d for d in roster.doctors}
        self.loads = {d.id: DoctorLoad(d) for d in roster.doctors}
        self.free: dict[str, dict[str, DoctorLoad]] = {}  # department -> doctors on duty with a free slot
        self.on_duty: dict[str, dict[str, None]] = {}  # department -> doctors on duty
        self.pending: dict[str, tuple[str, int]] = {}  # consultation -> (doctor, offer token)
        self.consults: dict[str, WaitingConsult] = {}
        self.estimates: dict[str, float] = {}
        self.result = PolicyResult("regional" if regional else "national", [math.inf] * len(arrivals), 0.0)
        self.index = {a.id: i for i, a in enumerate(arrivals)}
        self.stats = ServiceStats(mean_reply_s=params.mean_reply_s, mean_service_s=params.mean_service_s)
        self.events: list[tuple[float, int, int, str]] = []  # (time, sequence, kind, consultation or doctor id)
        self.seq = 0
        self.busy_s = 0.0
        self.dirty: set[str] = set()

    def push(self, t: float, kind: int, subject: str) -> int:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, subject))
        return self.seq

    def run(self) -> PolicyResult:
        start = self.p.start
        for shift in self.roster.shifts:
            self.push((shift.start - start).total_seconds(), _SHIFT_START, shift.doctor_id)
            self.push((shift.end - start).total_seconds(), _SHIFT_END, shift.doctor_id)
        for arrival in self.arrivals:
            self.push(arrival.t, _ARRIVE, arrival.id)
            self.push(arrival.t + arrival.patience_s, _ABANDON, arrival.id)
        tick = 0.0
        while self.events:
            if tick <= self.events[0][0]:
                if self.dirty and self.queue:
                    self.match(tick)
                self.dirty.clear()
                tick += self.p.match_interval_s
                continue
            self.handle(*heapq.heappop(self.events))
        horizon = self.p.hours * 3600.0
        capacity = sum(
            max(0.0, min((s.end - start).total_seconds(), horizon) - max((s.start - start).total_seconds(), 0.0))
            * self.doctors[s.doctor_id].max_concurrent
            for s in self.roster.shifts
        )
        self.result.utilisation = self.busy_s / capacity if capacity else 0.0
        return self.result

    def handle(self, t: float, token: int, kind: int, a: str) -> None:
        """Apply one event, marking the departments where the matcher may now make a new offer."""
        if kind == _ARRIVE:
            arrival = self.arrivals[self.index[a]]
            region = self.p.regions[arrival.region]
            self.clock.set(self.p.start + timedelta(seconds=t))
            consult = WaitingConsult(
                a, region.province, region.city, arrival.department, arrival.language, arrival.urgency, self.clock.now()
            )
            self.consults[a] = consult
            self.queue.push(consult)
            if not self.regional:
                loads = [self.loads[d] for d in self.on_duty.get(arrival.department, {})]
                wait = estimated_wait(self.queue, a, loads, self.stats)
                if wait is not None:
                    self.estimates[a] = wait.total_seconds()
            self.dirty.add(arrival.department)
        elif kind == _SHIFT_START:
            for department in self.doctors[a].departments:
                self.on_duty.setdefault(department, {})[a] = None
            self.set_load(a, self.loads[a].active)
        elif kind == _SHIFT_END:
            for department in self.doctors[a].departments:
                self.on_duty[department].pop(a, None)
                self.free.get(department, {}).pop(a, None)
        elif kind == _ABANDON:
            if a in self.queue:
                self.queue.remove(a)
            elif a in self.pending:
                doctor_id, _ = self.pending.pop(a)
                self.set_load(doctor_id, self.loads[doctor_id].active - 1)
        elif kind == _DONE:
            self.set_load(a, self.loads[a].active - 1)
        elif self.pending.get(a, ("", -1))[1] == token:  # else the patient gave up while the offer was out
            self.answered(t, kind, a)

    def answered(self, t: float, kind: int, a: str) -> None:
        doctor_id, _ = self.pending.pop(a)
        if kind == _REPLY:
            arrival = self.arrivals[self.index[a]]
            wait = t - arrival.t
            self.result.waits[self.index[a]] = wait
            if a in self.estimates:
                self.result.estimate_errors.append(abs(self.estimates[a] - wait))
            if self.doctors[doctor_id].province != self.p.regions[arrival.region].province:
                self.result.cross_region += 1
            self.busy_s += max(0.0, min(t + arrival.service_s, self.p.hours * 3600.0) - t)
            self.push(t + arrival.service_s, _DONE, doctor_id)
            return
        # _OFFER_FAILED: the doctor declined or let the offer time out; next doctor.
        self.set_load(doctor_id, self.loads[doctor_id].active - 1)
        self.consults[a] = self.consults[a].passed_over_by(doctor_id)
        self.queue.push(self.consults[a])
        self.dirty.add(self.consults[a].department)

    def set_load(self, doctor_id: str, active: int) -> None:
        doctor = self.doctors[doctor_id]
        load = DoctorLoad(doctor, active)
        self.loads[doctor_id] = load
        on_duty = doctor_id in self.on_duty.get(doctor.departments[0], {})
        for department in doctor.departments:
            if on_duty and load.free_slots:
                self.free.setdefault(department, {})[doctor_id] = load
                self.dirty.add(department)
            else:
                self.free.get(department, {}).pop(doctor_id, None)

    def match(self, t: float) -> None:
        """Run the matcher over the departments where something changed since the last run.

        Elsewhere nothing can be matched: after every run no waiting consultation has a suitable
        free doctor, and only a new request, a freed slot or a returned offer changes that.
        """
        doctors = {i: load for d in self.dirty for i, load in self.free.get(d, {}).items()}
        if not doctors:
            return
        self.clock.set(self.p.start + timedelta(seconds=t))
        policy = match_within_region if self.regional else match
        waiting = self.queue.waiting(sorted({d for load in doctors.values() for d in load.doctor.departments}))
        offers = policy(waiting, list(doctors.values()), self.clock.now(), self.p.match, seed=self.seed)
        timeout = self.p.match.offer_timeout_s
        for offer in offers:
            self.queue.remove(offer.consult_id)
            self.set_load(offer.doctor_id, self.loads[offer.doctor_id].active + 1)
            self.result.offers += 1
            declines, delay = self.answer(offer.consult_id, offer.doctor_id)
            if declines:
                self.result.declined += 1
                token = self.push(t + min(delay, timeout), _OFFER_FAILED, offer.consult_id)
            elif delay > timeout:
                self.result.timed_out += 1
                token = self.push(t + timeout, _OFFER_FAILED, offer.consult_id)
            else:
                token = self.push(t + delay, _REPLY, offer.consult_id)
            self.pending[offer.consult_id] = (offer.doctor_id, token)

    def answer(self, consult_id: str, doctor_id: str) -> tuple[bool, float]:
        """Whether the doctor declines this offer, and after how many seconds they answer."""
        digest = hashlib.blake2b(f"{self.seed}:{consult_id}:{doctor_id}".encode(), digest_size=8).digest()
        u1 = (int.from_bytes(digest[:4], "big") + 0.5) / 2**32
        u2 = (int.from_bytes(digest[4:], "big") + 0.5) / 2**32
        delay = self.roster.reply_median_s[doctor_id] * math.exp(self.p.reply_sigma * _NORMAL.inv_cdf(u2))
        return u1 < self.p.decline_rate, delay
