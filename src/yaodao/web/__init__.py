"""The web edge: JSON API and server-rendered pages. Routes are thin; services decide."""
