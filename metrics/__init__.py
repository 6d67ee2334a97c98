"""The report engine: ledger frames and a query in, the report frame out (SPEC §3)."""
