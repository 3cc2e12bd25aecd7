"""Payments: the wallet provider port, notification checks, the double-entry ledger and the insurance pot."""
