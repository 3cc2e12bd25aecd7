"""Safety gates shared by search, the consultation intake and chat: red flags (DOMAIN.md §7 RF1).

Deterministic rules first; a model may add hits on top, never remove them.
"""
