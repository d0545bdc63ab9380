"""Domain rules and shapes: pure, no I/O. Imports nothing of ours but ``videotasks.settings``."""
