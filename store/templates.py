"""App tables and access for templates (filled in by its issue)."""
