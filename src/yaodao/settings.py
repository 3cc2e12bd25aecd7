"""One validated settings object, read from the environment (``YAODAO_*``) by bootstrap()."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YAODAO_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/yaodao.db"
    secret_key: str = DEV_SECRET
    id_number_pepper: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Server processes of `yaodao run` (one uses one core): each its own container on the same database.
    workers: int = Field(default=1, ge=1, le=64)
    cookie_secure: bool | None = None  # default: on in production, off on http://127.0.0.1
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    bearer_days: int = Field(default=30, ge=1, le=365)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    city_dirs: list[Path] = Field(default_factory=list)
    default_city: str = "hangzhou"
    seed: int = 7
    log_json: bool = False
    outbox_interval_s: float = Field(default=1.0, gt=0)
    dispatch_enabled: bool = True  # one dispatcher loop per city in the background (`yaodao run`)
    dispatch_tick_s: float = Field(default=20.0, ge=1, le=600)  # seconds between a city's dispatcher ticks
    offers_enabled: bool = True  # the live matcher offering waiting consultations to doctors (`yaodao run`)
    offer_tick_s: float = Field(default=5.0, ge=1, le=600)  # seconds between the matcher's passes
    offer_seconds: float = Field(default=60.0, ge=5, le=3600)  # a doctor's time to accept an offer
    # Public URL of this platform, for the wallet's notify and return addresses.
    public_base_url: str = "http://127.0.0.1:8000"
    # The wallet: "sandbox" runs the sandbox wallet beside the platform (its own HTTP service and
    # storage under wallet_data_dir); "external" talks to wallet_gateway_url with the keys below.
    wallet_mode: Literal["sandbox", "external"] = "sandbox"
    wallet_serve: bool = True  # sandbox mode: `yaodao run` also serves the sandbox wallet (else run it apart)
    wallet_gateway_url: str = "http://127.0.0.1:8010/gateway.do"
    wallet_data_dir: Path = Path("var/wallet-sandbox")
    wallet_app_id: str | None = None
    wallet_seller_id: str | None = None
    wallet_app_private_key_file: Path | None = None
    wallet_public_key_file: Path | None = None
    order_payment_minutes: int = Field(default=15, ge=1, le=120)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.env == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError("YAODAO_SECRET_KEY must be set to a random value of 32+ characters in production")
            if self.id_number_pepper == DEV_SECRET:
                raise ValueError("YAODAO_ID_NUMBER_PEPPER must be set in production")
        if self.cookie_secure is None:
            self.cookie_secure = self.env == "production"
        return self
