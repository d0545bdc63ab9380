"""`python -m videotasks_cli`: the same as the `videotasks` command."""

from videotasks_cli.app import main

main()
