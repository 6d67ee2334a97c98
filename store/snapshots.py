"""App tables and access for snapshots (filled in by its issue)."""
