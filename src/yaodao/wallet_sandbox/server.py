"""Running the sandbox wallet as its own service on loopback."""

from __future__ import annotations

from pathlib import Path

from yaodao.kernel.clock import SystemClock
from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import DATABASE_FILE, init_data_dir, load_config
from yaodao.wallet_sandbox.store import SandboxStore


def serve(host: str = "127.0.0.1", port: int = 8010, data_dir: Path | str = Path("var/wallet-sandbox")) -> None:
    """Create the keys if missing, open ``data_dir/wallet.db``, deliver notifications in the background, serve.

    The platform then needs three things from ``data_dir`` (see ``config`` for the layout): the
    gateway URL ``http://<host>:<port>/gateway.do``, ``sandbox_public_key.pem`` (to verify responses
    and notifications) and, for the development app, ``apps/<app_id>/app_private_key.pem`` with
    ``apps/<app_id>/seller_id``. Register another app by writing its public key there instead.
    """
    import uvicorn

    folder = Path(data_dir)
    init_data_dir(folder)
    config = load_config(folder)
    store = SandboxStore(folder / DATABASE_FILE)
    try:
        app = create_sandbox_app(config, clock=SystemClock(), store=store, background=True)
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        store.close()
