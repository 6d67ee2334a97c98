"""App tables and access for outbox (filled in by its issue)."""
