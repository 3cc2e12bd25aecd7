"""A sandbox Alipay-style wallet: a real HTTP service with its own SQLite log, for development and tests.

It verifies each app's RSA2-signed requests, shows a pay page in place of the wallet app, answers
query/close/refund/refund-query with signed responses, and delivers signed notifications with
the wallet's resend schedule. ``serve()`` runs it; ``create_sandbox_app()`` builds it for tests.
"""

from yaodao.wallet_sandbox.app import create_sandbox_app
from yaodao.wallet_sandbox.config import AppRegistration, SandboxConfig, init_data_dir, load_config, register_app
from yaodao.wallet_sandbox.notifier import MAX_ATTEMPTS, RETRY_DELAYS, Notifier
from yaodao.wallet_sandbox.server import serve
from yaodao.wallet_sandbox.store import SandboxStore

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "AppRegistration",
    "Notifier",
    "SandboxConfig",
    "SandboxStore",
    "create_sandbox_app",
    "init_data_dir",
    "load_config",
    "register_app",
    "serve",
]
