"""The commands, one module per subject; `videotasks_cli.app` registers each with one line."""
