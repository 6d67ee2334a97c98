"""``dynamics report``: the report engine on the command line (SPEC §5)."""

COMMANDS: list = []
