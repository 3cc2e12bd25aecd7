"""Drugs, pharmacies and stock."""
