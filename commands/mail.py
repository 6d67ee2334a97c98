"""Mail commands: the background sender (the Procfile worker)."""

COMMANDS: list = []
