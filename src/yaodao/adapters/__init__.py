"""Adapters: they implement the ports that the domain and services declare."""
