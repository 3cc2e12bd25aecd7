"""Search: query analysis, retrieval, nearby availability, ranking and the landing page model."""
