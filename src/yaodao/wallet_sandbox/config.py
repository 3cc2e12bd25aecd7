"""The sandbox's configuration: its own signing key and the apps (merchants) registered with it.

On disk (``data_dir``), as ``serve()`` reads it::

    wallet.db                          the sandbox's own SQLite log (trades, refunds, notifications)
    sandbox_private_key.pem            the sandbox's signing key; never leaves data_dir
    sandbox_public_key.pem             give this to the platform: it verifies responses and notifications
    apps/<app_id>/app_public_key.pem   an app's public key: the sandbox verifies that app's requests with it
    apps/<app_id>/seller_id            the seller id (2088…) the sandbox puts in that app's notifications
    apps/<app_id>/app_private_key.pem  only for the development app ``init_data_dir`` creates

To register the platform, write its public key and seller id under ``apps/<app_id>/`` (or call
``register_app``); the platform keeps its private key and reads ``sandbox_public_key.pem``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import rsa

from yaodao.payments.signing import generate_keypair, load_private_key, load_public_key, public_key_pem

APP_ID = re.compile(r"[0-9A-Za-z_-]{1,32}", re.ASCII)
SELLER_ID = re.compile(r"[0-9A-Za-z_-]{1,32}", re.ASCII)
DEV_APP_ID = "2021000000000001"
DEV_SELLER_ID = "2088000000000001"
PRIVATE_KEY_FILE = "sandbox_private_key.pem"
PUBLIC_KEY_FILE = "sandbox_public_key.pem"
DATABASE_FILE = "wallet.db"


@dataclass(frozen=True)
class AppRegistration:
    """One merchant app: requests signed with its private key verify with ``public_key_pem``."""

    app_id: str
    public_key_pem: str
    seller_id: str
    public_key: rsa.RSAPublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not APP_ID.fullmatch(self.app_id):
            raise ValueError(f"app_id must be 1-32 letters, digits, '_' or '-', got {self.app_id!r}")
        if not SELLER_ID.fullmatch(self.seller_id):
            raise ValueError(f"seller_id must be 1-32 letters, digits, '_' or '-', got {self.seller_id!r}")
        try:
            key = load_public_key(self.public_key_pem)
        except ValueError as exc:
            raise ValueError(f"public_key_pem: {exc}") from exc
        object.__setattr__(self, "public_key", key)


@dataclass(frozen=True)
class SandboxConfig:
    """The registered apps (by app_id) and the sandbox's own private key, which signs what it sends."""

    apps: Mapping[str, AppRegistration]
    private_key_pem: str
    private_key: rsa.RSAPrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for app_id, app in self.apps.items():
            if app_id != app.app_id:
                raise ValueError(f"apps: key {app_id!r} does not match its registration's app_id {app.app_id!r}")
        try:
            key = load_private_key(self.private_key_pem)
        except ValueError as exc:
            raise ValueError(f"private_key_pem: {exc}") from exc
        object.__setattr__(self, "apps", MappingProxyType(dict(self.apps)))
        object.__setattr__(self, "private_key", key)

    @property
    def public_key_pem(self) -> str:
        """The key the platform verifies the sandbox's responses and notifications with."""
        return public_key_pem(self.private_key.public_key())

    def app(self, app_id: str) -> AppRegistration | None:
        return self.apps.get(app_id)


def init_data_dir(data_dir: Path, *, dev_app_id: str = DEV_APP_ID, dev_seller_id: str = DEV_SELLER_ID) -> None:
    """Create the sandbox key pair if missing and, when no app is registered yet, a development app."""
    data_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = data_dir / PRIVATE_KEY_FILE, data_dir / PUBLIC_KEY_FILE
    if not private_path.exists():
        private_pem, _ = generate_keypair()
        _write_secret(private_path, private_pem)
    public_path.write_text(public_key_pem(load_private_key(private_path.read_text("ascii")).public_key()), "ascii")
    apps = data_dir / "apps"
    if not apps.is_dir() or not any(p.is_dir() for p in apps.iterdir()):
        app_private, app_public = generate_keypair()
        register_app(data_dir, app_id=dev_app_id, public_key_pem=app_public, seller_id=dev_seller_id)
        _write_secret(apps / dev_app_id / "app_private_key.pem", app_private)


def register_app(data_dir: Path, *, app_id: str, public_key_pem: str, seller_id: str) -> AppRegistration:
    """Write an app's public key and seller id into ``data_dir`` (validated first)."""
    app = AppRegistration(app_id=app_id, public_key_pem=public_key_pem, seller_id=seller_id)
    folder = data_dir / "apps" / app_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app_public_key.pem").write_text(public_key_pem, "ascii")
    (folder / "seller_id").write_text(seller_id + "\n", "ascii")
    return app


def load_config(data_dir: Path) -> SandboxConfig:
    """Read the sandbox key and every ``apps/<app_id>/`` registration from ``data_dir``."""
    apps: dict[str, AppRegistration] = {}
    folder = data_dir / "apps"
    for app_dir in sorted(folder.iterdir()) if folder.is_dir() else ():
        if app_dir.is_dir() and (app_dir / "app_public_key.pem").exists():
            apps[app_dir.name] = AppRegistration(
                app_id=app_dir.name,
                public_key_pem=(app_dir / "app_public_key.pem").read_text("ascii"),
                seller_id=(app_dir / "seller_id").read_text("ascii").strip(),
            )
    return SandboxConfig(apps=apps, private_key_pem=(data_dir / PRIVATE_KEY_FILE).read_text("ascii"))


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
