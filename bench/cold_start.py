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
        "AWS_SECRET_ACCESS_KEY": "placeholder",  # no network is called: only client construction
        "AWS_SESSION_TOKEN": "placeholder",
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


# What the layer ships (layers/common/requirements.txt and what they require); Lambda's runtime brings boto3.
_LAYER_REQUIREMENTS = ("aws-lambda-powertools", "aws-xray-sdk", "pydantic", "httpx", "PyJWT", "cryptography")
_RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}


def layer_copy(target: Path, *, bytecode: bool) -> Path:
    """The layer as ``sam build`` lays it out in ``target``: our package and the layer's distributions
    copied from this interpreter's site-packages without a byte of bytecode, then, with ``bytecode``,
    compiled as layers/common/Makefile compiles them. Lambda mounts a layer read-only, so what is not
    compiled in the zip is compiled again at every cold start."""
    import compileall
    import importlib.metadata
    import re
    import shutil

    shutil.copytree(ROOT / "layers" / "common" / "python", target, ignore=shutil.ignore_patterns("__pycache__"))
    pending, seen = list(_LAYER_REQUIREMENTS), set()
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in _RUNTIME_PROVIDED:
            continue
        seen.add(key)
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a backport this Python does not install
        for file in distribution.files or []:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or str(file).startswith(".."):
                continue
            source = Path(str(distribution.locate_file(file)))
            if source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)
        requirements = distribution.requires or []
        pending += [re.split(r"[ ;<>=!\[~(]", line)[0] for line in requirements if "extra ==" not in line]
    if bytecode:
        compileall.compile_dir(
            target, quiet=1, workers=0, invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
    return target


def as_built(function: Function, layer: Path) -> dict[str, str]:
    """``function``'s environment with ``layer`` as its layer; nothing compiled at a start is kept."""
    return {
        **function.environment,
        "PYTHONPATH": os.pathsep.join([str(function.folder), str(layer)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def measure_layer_builds(runs: int) -> tuple[float, dict[str, tuple[float, float]]]:
    """Median ms of the floor and, per function, (layer without bytecode, layer compiled) as deployed."""
    import tempfile

    targets = deployed_functions()
    with tempfile.TemporaryDirectory() as scratch:
        bare = layer_copy(Path(scratch) / "bare", bytecode=False)
        compiled = layer_copy(Path(scratch) / "compiled", bytecode=True)
        floor: list[float] = []
        samples: dict[str, tuple[list[float], list[float]]] = {f.logical_id: ([], []) for f in targets}
        for _ in range(runs):
            floor.append(_run(_FLOOR, floor_environment(), ROOT))
            for function in targets:
                samples[function.logical_id][0].append(_run(_FUNCTION, as_built(function, bare), function.folder))
                samples[function.logical_id][1].append(_run(_FUNCTION, as_built(function, compiled), function.folder))
    medians = {name: (statistics.median(a), statistics.median(b)) for name, (a, b) in samples.items()}
    return statistics.median(floor), medians


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
settings = Settings.model_validate(
    {"TASKS_TABLE": "t", "STATS_TABLE": "s", "MEDIA_BUCKET": "m", "JWT_SECRET_NAME": "jwt"}
)
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
    invocations: float  # Lambda invocations per API_CALLS calls
    cold_start_ms: float  # init ms paid per API_CALLS calls
    verify_ms: float  # in-function verification ms per API_CALLS calls


API_CALLS = 1000
TOKEN_SECONDS = 3600  # a user's token lives an hour
CACHE_TTL_SECONDS = 300
# The share of invocations that land on a new container: an assumption, the same for every function, so
# it scales every design's cold-start figure alike and the ratios do not depend on it.
COLD_SHARE = 0.01


def auth_designs(authorizer_ms: float, api_ms: float, verify_us: float, calls_per_user: int) -> list[AuthDesign]:
    """What API_CALLS calls cost under each way of authorising them, from users who each make
    ``calls_per_user`` calls spread over their token's hour.

    A cached authorizer (identity source the Authorization header, TTL 300 s) runs once per token and
    5-minute window that sees a call: ``min(calls_per_user, 12)`` times per user. In-function verification
    adds no invocation; it costs ``verify_us`` per call inside the API function.
    """
    users = API_CALLS / calls_per_user
    cached_runs = users * min(calls_per_user, TOKEN_SECONDS // CACHE_TTL_SECONDS)

    def design(name: str, authorizer_runs: float, verify_ms: float = 0.0) -> AuthDesign:
        cold = COLD_SHARE * (authorizer_runs * authorizer_ms + API_CALLS * api_ms)
        return AuthDesign(name, API_CALLS + authorizer_runs, cold, verify_ms)

    return [
        design("authorizer, uncached (before)", API_CALLS),
        design(f"authorizer, cached {CACHE_TTL_SECONDS} s", cached_runs),
        design("verified in the api function (now)", 0, API_CALLS * verify_us / 1000),
    ]


def report(runs: int) -> dict[str, Any]:
    floor, functions = measure(runs)
    print(f"   floor (import boto3 + one client): {floor:6.0f} ms   target: every function <= {TARGET_RATIO}x")
    for name, ms in sorted(functions.items(), key=lambda item: -item[1]):
        ratio = ms / floor
        verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
        print(f"   {name:<24} {ms:6.0f} ms  {ratio:4.2f}x  {verdict}")
    layer_floor, builds = measure_layer_builds(max(3, runs // 3))
    print(
        f"\n   the layer as sam build ships it (floor {layer_floor:.0f} ms): without bytecode, every start compiles "
        "it; layers/common/Makefile now compiles it"
    )
    for name, (bare_ms, compiled_ms) in sorted(builds.items(), key=lambda item: -item[1][0]):
        print(
            f"   {name:<24} {bare_ms:6.0f} ms {bare_ms / layer_floor:4.2f}x  ->  {compiled_ms:6.0f} ms "
            f"{compiled_ms / layer_floor:4.2f}x  {'PASS' if compiled_ms / layer_floor <= TARGET_RATIO else 'MISS'}"
        )
    verify_us = verify_microseconds()
    api_ms, authorizer_ms = functions["ApiFunction"], functions["AuthorizerFunction"]
    print(
        f"\n   HTTP API auth, per {API_CALLS:,} calls from users with 1-hour tokens (cold init measured above: api "
        f"{api_ms:.0f} ms, authorizer {authorizer_ms:.0f} ms; {COLD_SHARE:.0%} of invocations cold, assumed; "
        f"one verification in process: {verify_us:.0f} us)"
    )
    auth: dict[str, Any] = {}
    for calls_per_user in (12, 60, 360):
        print(f"   users making {calls_per_user} calls an hour:")
        designs = auth_designs(authorizer_ms, api_ms, verify_us, calls_per_user)
        base = designs[0]
        for design in designs:
            print(
                f"     {design.name:<36} {design.invocations:5.0f} invocations "
                f"({design.invocations / base.invocations:4.2f}x)  {design.cold_start_ms:6.0f} cold-start ms "
                f"({design.cold_start_ms / base.cold_start_ms:4.2f}x)  + {design.verify_ms:4.0f} ms verifying"
            )
        auth[str(calls_per_user)] = {
            d.name: {"invocations": d.invocations, "coldStartMs": d.cold_start_ms, "verifyMs": d.verify_ms}
            for d in designs
        }
    return {
        "floorMs": floor,
        "functionMs": functions,
        "ratios": {name: ms / floor for name, ms in functions.items()},
        "layerBuilds": {
            "floorMs": layer_floor,
            "withoutBytecodeMs": {n: b[0] for n, b in builds.items()},
            "compiledMs": {n: b[1] for n, b in builds.items()},
        },
        "verifyMicroseconds": verify_us,
        "authPer1000Calls": auth,
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
