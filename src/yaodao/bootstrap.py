"""The one composition root: settings in, wired adapters and services out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Engine

from yaodao.adapters.db.engine import build_engine
from yaodao.adapters.db.follower import OutboxFollower
from yaodao.adapters.db.leases import Leases, build_leases
from yaodao.adapters.db.outbox import OutboxRelay
from yaodao.adapters.db.uow import UnitOfWork
from yaodao.adapters.dispatch_worker import DispatchWorker
from yaodao.adapters.offer_worker import OfferWorker
from yaodao.adapters.passwords import Argon2Passwords
from yaodao.adapters.search_postgres import build_search_index
from yaodao.care.offers import OfferParams
from yaodao.catalog.model import Product
from yaodao.cities import load_city_from_dir
from yaodao.dispatch.fleet import FleetView, fleet_reach
from yaodao.dispatch.travel import HaversineTravelTimes
from yaodao.dispatch.travel_matrix import CityTravelMatrix
from yaodao.kernel.city import City, city_from_data
from yaodao.kernel.clock import Clock, SystemClock
from yaodao.messagebus import Message, MessageBus
from yaodao.payments.services import PaymentsContext
from yaodao.search.availability import AvailabilityIndex, AvailabilityParams
from yaodao.search.service import SearchService
from yaodao.settings import Settings

log = structlog.get_logger(__name__)


class DbCityRegistry:
    """Cities as stored in the database (plus YAODAO_CITY_DIRS), cached until a CitySaved event."""

    def __init__(self, uow_factory: Callable[..., UnitOfWork], extra: dict[str, City]) -> None:
        self._uow = uow_factory
        self._extra = extra
        self._cache: dict[str, City] = {}
        self._lock = threading.Lock()

    def get(self, city_id: str) -> City | None:
        with self._lock:
            if city_id in self._cache:
                return self._cache[city_id]
        with self._uow(read_only=True) as uow:
            found = uow.cities.get_data(city_id)
        city = city_from_data(found[0], found[1]) if found else self._extra.get(city_id)
        if city is not None:
            with self._lock:
                self._cache[city_id] = city
        return city

    def ids(self) -> list[str]:
        with self._uow(read_only=True) as uow:
            return sorted(set(uow.cities.ids()) | set(self._extra))

    def forget(self, city_id: str | None = None) -> None:
        with self._lock:
            if city_id is None:
                self._cache.clear()
            else:
                self._cache.pop(city_id, None)


class AvailabilityCache:
    """One in-memory availability index per city, built on first use and kept fresh by events."""

    def __init__(self, uow_factory: Callable[..., UnitOfWork], cities: DbCityRegistry, params: AvailabilityParams):
        self._uow = uow_factory
        self._cities = cities
        self._params = params
        self._indexes: dict[str, AvailabilityIndex] = {}
        self._fleets: dict[str, FleetView] = {}  # the dispatcher's last view of each city's couriers
        self._lock = threading.Lock()

    def index(self, city_id: str) -> AvailabilityIndex | None:
        with self._lock:
            found = self._indexes.get(city_id)
            if found is not None:
                return found
            city = self._cities.get(city_id)
            if city is None:
                return None
            with self._uow(read_only=True) as uow:
                pharmacies = uow.pharmacies.in_city(city_id)
                stock = uow.stock.in_city(city_id)
            built = AvailabilityIndex.build(city, pharmacies, stock, HaversineTravelTimes(city), self._params)
            view = self._fleets.get(city_id)
            if view is not None:
                built.set_fleet(fleet_reach(view, *built.pharmacy_locations(), CityTravelMatrix(city)))
            self._indexes[city_id] = built
            return built

    def on_fleet(self, view: FleetView) -> None:
        """A dispatcher tick's couriers: quote from their reach (see yaodao.dispatch.fleet)."""
        with self._lock:
            self._fleets[view.city_id] = view
            index = self._indexes.get(view.city_id)
        if index is not None:
            index.set_fleet(fleet_reach(view, *index.pharmacy_locations(), CityTravelMatrix(index.city)))

    def on_stock_changed(self, message: Message) -> None:
        p = message["payload"]
        with self._lock:
            index = self._indexes.get(message["city_id"] or "")
        if index is not None:
            index.update_stock(p["pharmacy_id"], p["product_id"], p["available"])

    def forget(self, message: Message) -> None:
        with self._lock:
            self._indexes.pop(message.get("city_id") or "", None)

    def forget_all(self) -> None:
        """Drop every city's index (events may have been missed): each is rebuilt on next use."""
        with self._lock:
            self._indexes.clear()


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    bus: MessageBus
    relay: OutboxRelay
    passwords: Argon2Passwords
    cities: DbCityRegistry
    availability: AvailabilityCache
    search: SearchService
    extras: dict[str, Any] = field(default_factory=dict)
    dispatcher: DispatchWorker | None = None  # the live dispatcher's loops, one per city
    offers: OfferWorker | None = None  # the live matcher offering waiting consultations to doctors
    leases: Leases | None = None  # which process relays (SQLite) and runs the loops above, of several

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, read_only=read_only, after_commit=self.relay.wake)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_hours)

    @property
    def bearer_lifetime(self) -> timedelta:
        return timedelta(days=self.settings.bearer_days)

    def start_background(self) -> None:
        self.relay.start(self.settings.outbox_interval_s)
        if self.dispatcher is not None and self.settings.dispatch_enabled:
            self.dispatcher.start()
        if self.offers is not None and self.settings.offers_enabled:
            self.offers.start()

    def stop_dispatcher(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.offers is not None:
            self.offers.stop()

    def payments(self) -> PaymentsContext:
        """The wallet this platform pays through, built on first use (keys are read from files)."""
        found = self.extras.get("payments")
        if found is None:
            found = self.extras["payments"] = build_payments(self.settings)
        assert isinstance(found, PaymentsContext)
        return found

    def close(self) -> None:
        self.stop_dispatcher()
        self.relay.stop()
        if self.leases is not None:
            self.leases.release_all()  # another process takes the relay and the loops over at its next pass
        payments = self.extras.pop("payments", None)
        close_wallet = getattr(getattr(payments, "provider", None), "close_connections", None)
        if close_wallet is not None:
            close_wallet()
        self.engine.dispose()


def build_payments(settings: Settings) -> PaymentsContext:
    """The wallet client and the platform's identity at the wallet, from settings.

    In sandbox mode the keys come from the sandbox's data folder (created on first use), where the
    sandbox also reads the development app's public key; in external mode from the files named in
    the settings.
    """
    from yaodao.adapters.wallet_client import AlipayStyleClient
    from yaodao.payments.services import WalletAccount
    from yaodao.payments.signing import load_public_key

    if settings.wallet_mode == "sandbox":
        from yaodao.wallet_sandbox.config import DEV_APP_ID, PUBLIC_KEY_FILE, init_data_dir

        folder = settings.wallet_data_dir
        init_data_dir(folder)
        app_id = DEV_APP_ID
        app_dir = folder / "apps" / app_id
        seller_id = (app_dir / "seller_id").read_text(encoding="utf-8").strip()
        private_pem = (app_dir / "app_private_key.pem").read_text(encoding="utf-8")
        wallet_pem = (folder / PUBLIC_KEY_FILE).read_text(encoding="utf-8")
    else:
        if not (
            settings.wallet_app_id
            and settings.wallet_seller_id
            and settings.wallet_app_private_key_file
            and settings.wallet_public_key_file
        ):
            raise ValueError(
                "YAODAO_WALLET_MODE=external needs YAODAO_WALLET_APP_ID, YAODAO_WALLET_SELLER_ID, "
                "YAODAO_WALLET_APP_PRIVATE_KEY_FILE and YAODAO_WALLET_PUBLIC_KEY_FILE"
            )
        app_id, seller_id = settings.wallet_app_id, settings.wallet_seller_id
        private_pem = settings.wallet_app_private_key_file.read_text(encoding="utf-8")
        wallet_pem = settings.wallet_public_key_file.read_text(encoding="utf-8")
    base = settings.public_base_url.rstrip("/")
    account = WalletAccount(
        app_id=app_id,
        seller_id=seller_id,
        wallet_public_key=load_public_key(wallet_pem),
        notify_url=f"{base}/api/payments/notify",
        return_url=f"{base}/orders",
    )
    provider = AlipayStyleClient(settings.wallet_gateway_url, app_id, private_pem, wallet_pem)
    return PaymentsContext(provider=provider, account=account, timeout_minutes=settings.order_payment_minutes)


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, fast_passwords: bool = False
) -> Container:
    settings = settings or Settings()
    clock = clock or SystemClock()
    engine = build_engine(settings.database_url)
    bus = MessageBus()
    # Caches below follow every committed event, whichever process relayed it (see follower.py).
    follower = OutboxFollower(engine, bus, on_lost=lambda: forget_caches())
    leases = build_leases(engine)  # which process relays (SQLite) and runs each background loop
    relay = OutboxRelay(engine, bus, clock, follower=follower, leases=leases)

    def uow_factory(*, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(engine, clock, read_only=read_only, after_commit=relay.wake)

    extra_cities = {c.id: c for c in (load_city_from_dir(d) for d in settings.city_dirs)}
    cities = DbCityRegistry(uow_factory, extra_cities)
    availability = AvailabilityCache(uow_factory, cities, AvailabilityParams())
    bus.subscribe("catalog.stock_changed", availability.on_stock_changed, every_process=True)
    bus.subscribe("catalog.pharmacy_saved", availability.forget, every_process=True)
    bus.subscribe("catalog.city_saved", availability.forget, every_process=True)
    bus.subscribe("catalog.city_saved", lambda m: cities.forget(m.get("city_id")), every_process=True)

    def load_products() -> list[Product]:
        with uow_factory(read_only=True) as uow:
            return uow.products.all()

    search = SearchService(
        load_products=load_products, index=build_search_index(engine), availability=availability.index
    )

    # The search index is derived from the catalog: a changed product rebuilds it (343 products: milliseconds).
    def reindex(_: Message) -> None:
        search.reindex()

    # Every process holds its own catalog snapshot; rewriting the stored index again is a no-op.
    bus.subscribe("catalog.product_saved", reindex, every_process=True)

    def forget_caches() -> None:
        availability.forget_all()
        cities.forget()
        search.reindex()

    follower.start_at_end()  # before any cache is built: each is built from the database after this
    container = Container(
        settings=settings,
        engine=engine,
        clock=clock,
        bus=bus,
        relay=relay,
        passwords=Argon2Passwords(fast=fast_passwords),
        cities=cities,
        availability=availability,
        search=search,
        dispatcher=DispatchWorker(
            uow_factory=uow_factory,
            cities=cities.get,
            city_ids=cities.ids,
            clock=clock,
            tick_s=settings.dispatch_tick_s,
            seed=settings.seed,
            on_fleet=availability.on_fleet,
            leases=leases,
        ),
        offers=OfferWorker(
            uow_factory=uow_factory,
            tick_s=settings.offer_tick_s,
            params=OfferParams(offer_seconds=settings.offer_seconds, seed=settings.seed),
            leases=leases,
        ),
        leases=leases,
    )
    # An order that closes unfulfilled after payment is refunded as soon as its event is relayed.
    from yaodao.payments.refunds import subscribe_auto_refunds

    subscribe_auto_refunds(bus, uow_factory=uow_factory, provider=lambda: container.payments().provider)
    # A paid delivery order gets its delivery row; one that will not be delivered cancels it.
    from yaodao.delivery.intake import subscribe_delivery_intake

    subscribe_delivery_intake(bus, uow_factory=uow_factory)
    return container
