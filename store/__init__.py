"""Data access: the SQLAlchemy models and everything that reads or writes the database."""
