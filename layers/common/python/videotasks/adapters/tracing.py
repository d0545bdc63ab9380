"""X-Ray tracing (Powertools Tracer; the template turns tracing on for every function).

Only botocore is patched, so every AWS call is a subsegment of its own. The provider clients' HTTP calls
are traced by the methods that make them rather than by patching httpx, which would send our trace
header to the provider and to whichever host serves its media.

Responses are recorded only where they are small and hold nothing of the user's: a task carries its
prompt, and replies carry presigned media URLs, which are credentials until they expire.

Tracer turns itself off outside Lambda; the local stack and the tests also set POWERTOOLS_TRACE_DISABLED.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(patch_modules=["botocore"])
