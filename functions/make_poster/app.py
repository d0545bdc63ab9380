"""Step Functions task: a poster frame of a finished video (see videotasks.services.posters).

The only function with the ffmpeg layer."""

from videotasks import wiring

lambda_handler = wiring.poster_handler()
