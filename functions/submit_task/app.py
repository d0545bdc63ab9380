"""Step Functions task: the submit step of a video task (see videotasks.services.workflow)."""

from videotasks import wiring

lambda_handler = wiring.step_handler("submit")
