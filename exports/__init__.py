"""Report files and e-mail: pure functions that return bytes."""
