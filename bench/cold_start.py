"""Cold starts: every function's whole-process init against the floor, and what the HTTP API's auth costs.

A cold start's init is a fresh interpreter that imports the handler module and makes its first AWS client.
The floor is the least any Python function that talks to AWS pays: ``import boto3`` and one client. Both run
as whole processes (``python -c``, spawn to exit, interpreter start included) with the environment a deployed
function has: the layer and the function's folder on the path, the template's Globals and function variables
(placeholder values for what CloudFormation would fill in), Lambda's own variables (so Powertools Tracer is
active, as with ``Tracing: Active``) and placeholder credentials, so that nothing looks for credentials on
the network. Clients are built, never called. Runs are interleaved (floor, every function, floor, ...) so
that a noisy neighbour weighs on all of them alike, and each figure is a median.

``python -m bench.cold_start`` prints the table alone; ``python -m bench`` prints it with the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
REGION = "us-east-1"

# The first AWS client every process builds; the same call in the floor and in every function.
_CLIENT = 'import boto3; boto3.session.Session().client("dynamodb")'
_FLOOR = _CLIENT
_FUNCTION = "import app; " + _CLIENT


@dataclass(frozen=True)
class Function:
    logical_id: str
    folder: Path  # functions/<name>
    environment: dict[str, str]


def _placeholders(template: dict[str, Any]) -> Any:
    """A resolver that gives every resource a plausible placeholder name and attribute."""
    from local.template import ACCOUNT, Resolver

    class Placeholders(Resolver):
        def ref(self, name: str) -> Any:
            if name in self.template.get("Resources", {}):
                kind = self.template["Resources"][name]["Type"]
                if kind == "AWS::StepFunctions::StateMachine":
                    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
                if kind == "AWS::SecretsManager::Secret":
                    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
                return f"videotasks-dev-{name}"
            return super().ref(name)

        def get_att(self, name: str, attribute: str) -> str:
            return f"arn:aws:placeholder:{REGION}:{ACCOUNT}:{name}/{attribute}"

    return Placeholders(template)


def deployed_functions() -> list[Function]:
    """Every function of template.yaml with the environment it would have once deployed."""
    from local.template import functions, load_template

    template = load_template()
    resolver = _placeholders(template)
    globals_ = template["Globals"]["Function"]
    shared = (globals_.get("Environment") or {}).get("Variables", {})
    found = []
    for logical_id, body in sorted(functions(template).items()):
        props = body["Properties"]
        folder = ROOT / str(props["CodeUri"]).rstrip("/")
        variables = {**shared, **(props.get("Environment") or {}).get("Variables", {})}
        environment = {key: str(resolver.resolve(value)) for key, value in variables.items()}
        environment.update(_lambda_environment(logical_id, folder, props.get("MemorySize", globals_["MemorySize"])))
        found.append(Function(logical_id, folder, environment))
    return found


def _lambda_environment(logical_id: str, folder: Path, memory: int) -> dict[str, str]:
    return {
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT / "layers" / "common" / "python")]),
        "LAMBDA_TASK_ROOT": str(folder),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"videotasks-dev-{logical_id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "_HANDLER": "app.lambda_handler",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIAPLACEHOLDER00000",
        "AWS_SECRET_ACCESS_KEY": "placeholder",  # noqa: S105 - not a secret: no network is called
        "AWS_SESSION_TOKEN": "placeholder",  # noqa: S105
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
    }


def floor_environment() -> dict[str, str]:
    """The floor runs as a function with no code of ours: the same Lambda variables, the layer off the path."""
    environment = _lambda_environment("Floor", ROOT / "bench", 512)
    environment["PYTHONPATH"] = ""
    return environment


def _run(code: str, environment: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=environment, cwd=cwd, check=True, capture_output=True
    )
    return (time.perf_counter() - start) * 1000


def measure(runs: int) -> tuple[float, dict[str, float]]:
    """Median whole-process ms of the floor and of every function, from ``runs`` interleaved rounds."""
    targets = deployed_functions()
    floor_env = floor_environment()
    for function in targets:  # a handler that cannot start at all is a bug, not a slow start
        _check_starts(function)
    floor: list[float] = []
    samples: dict[str, list[float]] = {function.logical_id: [] for function in targets}
    for _ in range(runs):
        floor.append(_run(_FLOOR, floor_env, ROOT))
        for function in targets:
            samples[function.logical_id].append(_run(_FUNCTION, function.environment, function.folder))
    return statistics.median(floor), {name: statistics.median(values) for name, values in samples.items()}


def _check_starts(function: Function) -> None:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _FUNCTION],
        env=function.environment,
        cwd=function.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{function.logical_id} does not start:\n{result.stderr}")


def verify_microseconds(runs: int = 2000) -> float:
    """In-process cost of one HS256 token verification (``verify_token``), the secret already read."""
    code = """
import time
from unittest import mock
from videotasks.edge import auth
from videotasks.settings import Settings
import jwt
secret = "s" * 48
token = jwt.encode({"sub": "bench-user", "exp": int(time.time()) + 3600}, secret, algorithm="HS256")
settings = Settings.model_validate({"TASKS_TABLE": "t", "STATS_TABLE": "s", "MEDIA_BUCKET": "m", "JWT_SECRET_NAME": "jwt"})
with mock.patch.object(auth, "get_secret", return_value=secret):
    for _ in range(200):
        auth.verify_token("Bearer " + token, settings)
    start = time.perf_counter()
    for _ in range(RUNS):
        auth.verify_token("Bearer " + token, settings)
    print((time.perf_counter() - start) / RUNS * 1e6)
""".replace("RUNS", str(runs))
    environment = {**floor_environment(), "PYTHONPATH": str(ROOT / "layers" / "common" / "python")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class AuthDesign:
    name: str
    invocations: float  # Lambda invocations per 1,000 API calls
    cold_start_ms: float  # init ms paid per 1,000 API calls
    verify_ms: float  # in-function verification ms per 1,000 API calls


def auth_designs(
    authorizer_ms: float, api_ms: float, verify_us: float, *, calls: int = 1000, cold_share: float = 0.01
) -> list[AuthDesign]:
    """What 1,000 API calls from users with 1-hour tokens cost under each way of authorising them.

    ``cold_share`` is the share of invocations that land on a new container (the same for every function,
    so only the number of functions on the path changes it). A cached authorizer (TTL 300 s, keyed on the
    Authorization header) runs once per token and 5 minutes: a user active for the token's hour who calls
    at least every 5 minutes costs 12 authorizer runs; we take the worst case that every one of those
    1,000 calls comes from a different 5-minute window, and the best case of one user calling 1,000 times
    within the hour, and print the worst (caching never does worse than the uncached design).
    """
    cached_runs = min(calls, calls)  # worst case: every call starts a new (token, 5-minute) window
    cached_best = min(calls, 3600 // 300)
    return [
        AuthDesign(
            "authorizer, uncached (before)",
            2 * calls,
            calls * cold_share * (authorizer_ms + api_ms),
            0.0,
        ),
        AuthDesign(
            "authorizer, cached 300 s: worst",
            calls + cached_runs,
            cold_share * (cached_runs * authorizer_ms + calls * api_ms),
            0.0,
        ),
        AuthDesign(
            "authorizer, cached 300 s: best",
            calls + cached_best,
            cold_share * (cached_best * authorizer_ms + calls * api_ms),
            0.0,
        ),
        AuthDesign("verified in the api function", calls, calls * cold_share * api_ms, calls * verify_us / 1000),
    ]


def report(runs: int) -> dict[str, Any]:
    floor, functions = measure(runs)
    print(f"   floor (import boto3 + one client): {floor:6.0f} ms   target: every function <= {TARGET_RATIO}x")
    for name, ms in sorted(functions.items(), key=lambda item: -item[1]):
        ratio = ms / floor
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(f"   {name:<24} {ms:6.0f} ms  {ratio:4.2f}x  {verdict}")
    verify_us = verify_microseconds()
    api_ms = functions.get("ApiFunction", floor)
    authorizer_ms = functions.get("AuthorizerFunction", floor)
    designs = auth_designs(authorizer_ms, api_ms, verify_us)
    print(
        f"\n   HTTP API auth per 1,000 calls (1-hour tokens; 1% of invocations cold; verify {verify_us:.0f} us "
        f"in process; cold init: api {api_ms:.0f} ms, authorizer {authorizer_ms:.0f} ms)"
    )
    base = designs[0]
    for design in designs:
        print(
            f"   {design.name:<34} {design.invocations:6.0f} invocations ({design.invocations / base.invocations:4.2f}x)"
            f"  {design.cold_start_ms:7.0f} cold-start ms ({design.cold_start_ms / base.cold_start_ms:4.2f}x)"
            f"  + {design.verify_ms:5.1f} ms verifying"
        )
    return {
        "floorMs": floor,
        "functionMs": functions,
        "ratios": {name: ms / floor for name, ms in functions.items()},
        "verifyMicroseconds": verify_us,
        "auth": {d.name: {"invocations": d.invocations, "coldStartMs": d.cold_start_ms} for d in designs},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"Cold init, whole processes side by side with the floor (median of {args.runs} interleaved rounds)")
    print("\n" + json.dumps(report(args.runs)))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
