"""`videotasks`: the service from a terminal or a script (typer + rich), and the old backend's importer."""
