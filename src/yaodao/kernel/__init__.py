"""Value types every context shares: money, ids, clock, coordinates, cities."""
