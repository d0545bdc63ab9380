"""template.yaml against the code it deploys: settings, the state machine definition, the build.

(a) Every setting ``videotasks.settings.Settings`` requires reaches every function, and the template
    sets no variable the code does not read.
(b) The ASL with its DefinitionSubstitutions applied is a definition Step Functions (moto's parser)
    accepts, with nothing left unsubstituted.
(c) Each function's handler imports from the ``sam build`` output with the layer, as Lambda would
    import it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT, Resolver, functions, load_template, resources
from videotasks.domain.catalog import Catalog, entry_variables, load_document
from videotasks.settings import Settings

TEMPLATE = load_template()
FUNCTIONS = sorted(functions(TEMPLATE))
SETTINGS_VARIABLES = {field.alias for field in Settings.model_fields.values() if field.alias}
REQUIRED_VARIABLES = {field.alias for field in Settings.model_fields.values() if field.alias and field.is_required()}
# Each provider entry's overrides and secret, which the catalog reads (videotasks.domain.catalog).
CATALOG_VARIABLES = {
    name
    for entry_id, spec in load_document().providers.items()
    for name in entry_variables(entry_id, spec).model_dump().values()
}
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def declared_environment(logical_id: str) -> dict[str, Any]:
    """What Lambda would give the function: Globals' variables, overridden by its own."""
    global_variables = TEMPLATE["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = (TEMPLATE["Resources"][logical_id]["Properties"].get("Environment") or {}).get("Variables", {})
    return {**global_variables, **own}


# -- (a) settings -----------------------------------------------------------------------------------


def test_settings_require_some_variables() -> None:
    # Guards the tests below against passing vacuously should Settings stop declaring aliases.
    assert {"TASKS_TABLE", "STATS_TABLE", "MEDIA_BUCKET"} <= REQUIRED_VARIABLES


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_required_setting_is_set_for_the_function(logical_id: str) -> None:
    missing = REQUIRED_VARIABLES - set(declared_environment(logical_id))
    assert not missing, f"{logical_id} lacks {sorted(missing)}"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_variable_the_template_sets_is_a_setting_or_powertools(logical_id: str) -> None:
    unknown = {
        name
        for name in declared_environment(logical_id)
        if name not in SETTINGS_VARIABLES | CATALOG_VARIABLES and not name.startswith("POWERTOOLS_")
    }
    assert not unknown, f"{logical_id} sets {sorted(unknown)}, which neither Settings nor the catalog reads"


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_provider_entry_has_its_secret_in_the_template(logical_id: str) -> None:
    document = load_document()
    secrets = {str(entry_variables(entry_id, spec).secret) for entry_id, spec in document.providers.items()}
    assert secrets <= set(declared_environment(logical_id))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_functions_resolved_environment_is_valid_settings(aws_stack: Any, logical_id: str) -> None:
    environment = {
        name: str(aws_stack.resolver.resolve(value)) for name, value in declared_environment(logical_id).items()
    }

    settings = Settings.model_validate(
        {
            **{name: value for name, value in environment.items() if name in SETTINGS_VARIABLES},
            "provider_variables": {name: value for name, value in environment.items() if name in CATALOG_VARIABLES},
        }
    )
    catalog = Catalog.configured(settings)  # the template's defaults are a configuration that starts

    assert settings.tasks_table == aws_stack.physical("TasksTable")
    for entry in catalog.entries.values():
        assert str(entry.secret_name).startswith("arn:aws:secretsmanager:"), entry.id


def test_the_api_function_knows_its_state_machine_and_idempotency_table() -> None:
    environment = declared_environment("ApiFunction")
    assert environment["STATE_MACHINE_ARN"] == {"Ref": "VideoTaskStateMachine"}
    assert environment["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}


# -- (b) the state machine definition ---------------------------------------------------------------

STATE_MACHINE = next(iter(resources(TEMPLATE, "AWS::Serverless::StateMachine").values()))["Properties"]
DEFINITION_FILE = ROOT / STATE_MACHINE["DefinitionUri"]


def substituted_definition(resolver: Resolver) -> str:
    definition = DEFINITION_FILE.read_text(encoding="utf-8")
    for name, value in resolver.resolve(STATE_MACHINE["DefinitionSubstitutions"]).items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def test_every_placeholder_in_the_asl_has_a_substitution_and_every_substitution_is_used() -> None:
    placeholders = {match[2:-1] for match in PLACEHOLDER.findall(DEFINITION_FILE.read_text(encoding="utf-8"))}
    assert placeholders
    assert placeholders == set(STATE_MACHINE["DefinitionSubstitutions"])


def test_the_substituted_asl_leaves_no_placeholder_and_names_only_template_functions(executing_aws: Any) -> None:
    definition = substituted_definition(executing_aws.resolver)

    assert PLACEHOLDER.findall(definition) == []
    states = json.loads(definition)["States"]
    invoked = {state["Parameters"]["FunctionName"] for state in states.values() if state["Type"] == "Task"}
    assert invoked <= {executing_aws.resolver.get_att(name, "Arn") for name in FUNCTIONS}
    assert len(invoked) == len(STATE_MACHINE["DefinitionSubstitutions"])


def test_step_functions_accepts_the_substituted_asl(executing_aws: Any) -> None:
    sfn = executing_aws.client("stepfunctions")

    created = sfn.create_state_machine(
        name="asl-under-test",
        definition=substituted_definition(executing_aws.resolver),
        roleArn="arn:aws:iam::123456789012:role/asl-under-test",
        type=STATE_MACHINE.get("Type", "STANDARD"),
    )

    described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert json.loads(described["definition"])["StartAt"] == json.loads(DEFINITION_FILE.read_text())["StartAt"]


def test_step_functions_in_moto_does_check_definitions(executing_aws: Any) -> None:
    # Proves the acceptance above means something: moto's parser refuses a broken definition.
    broken = json.loads(substituted_definition(executing_aws.resolver))
    broken["States"][broken["StartAt"]]["Type"] = "Teleport"

    with pytest.raises(executing_aws.client("stepfunctions").exceptions.ClientError):
        executing_aws.client("stepfunctions").create_state_machine(
            name="broken", definition=json.dumps(broken), roleArn="arn:aws:iam::123456789012:role/broken"
        )


# -- (c) the sam build output -----------------------------------------------------------------------
#
# `make test` runs `sam build` before pytest. SAM builds for the template's architecture, arm64:
# pure-python packages in the layer import on this x86 machine, compiled ones (pydantic_core,
# cryptography, cffi) are aarch64 wheels that cannot. So each handler is imported in a fresh,
# isolated interpreter (no PYTHONPATH, so never the source tree's videotasks) whose path is the
# built function's directory, then the built layer's python/ with its compiled packages left out,
# then this venv's site-packages, which stands in for those compiled packages (and for boto3, which
# the Lambda runtime provides).

BUILD = ROOT / ".aws-sam" / "build"
EXPECTED_LAYER_PACKAGES = ["videotasks", "aws_lambda_powertools", "aws_xray_sdk", "pydantic", "httpx", "jwt"]
_IMPORT_HANDLERS = """
import importlib, json, sys, traceback
layer, function_dirs = sys.argv[1], json.loads(sys.argv[2])
sys.path.insert(0, layer)
names = ["app", "videotasks", "aws_lambda_powertools", "aws_xray_sdk", "pydantic", "httpx", "jwt"]
report = {}
for logical_id, function_dir in function_dirs.items():
    sys.path.insert(0, function_dir)  # Lambda's /var/task
    sys.modules.pop("app", None)
    try:
        module = importlib.import_module("app")
        assert callable(module.lambda_handler), "app.lambda_handler is not callable"
        origins = {name: getattr(sys.modules.get(name), "__file__", None) for name in names}
        report[logical_id] = {"origins": origins}
    except BaseException:
        report[logical_id] = {"error": traceback.format_exc()}
    finally:
        sys.path.remove(function_dir)
print(json.dumps(report))
"""


def _built() -> dict[str, Any]:
    if not (BUILD / "template.yaml").is_file():
        pytest.skip("no .aws-sam/build: run `make sam-build` (`make test` runs it before pytest)")
    return load_template(BUILD / "template.yaml")


def _layer_python(logical_id: str = "CommonLayer") -> Path:
    layer = resources(_built(), "AWS::Serverless::LayerVersion")[logical_id]
    return BUILD / layer["Properties"]["ContentUri"] / "python"


_ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}


def _elf_machine(binary: Path) -> int | None:
    header = binary.read_bytes()[:20]
    if not header.startswith(b"\x7fELF"):
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def _loads_here(entry: Path) -> bool:
    """False for a compiled extension, or a package holding one, built for another machine (the file
    names do not always say: ``_rust.abi3.so``), read from the ELF header."""
    here = _ELF_MACHINES.get(platform.machine().lower())
    binaries = [entry] if entry.is_file() else list(entry.rglob("*.so"))
    return all(_elf_machine(binary) in (None, here) for binary in binaries if binary.name.endswith(".so"))


@pytest.fixture(scope="module")
def pure_python_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built layer's python/ minus what cannot load on this machine, as a directory of links."""
    source = _layer_python()
    overlay = tmp_path_factory.mktemp("layer-python")
    for entry in source.iterdir():
        if _loads_here(entry):
            (overlay / entry.name).symlink_to(entry)
    return overlay


@pytest.mark.parametrize("package", EXPECTED_LAYER_PACKAGES)
def test_the_built_layer_holds_the_package(package: str) -> None:
    assert (_layer_python() / package / "__init__.py").is_file(), sorted(p.name for p in _layer_python().iterdir())


def test_the_built_layer_holds_the_model_catalog_the_functions_read_at_start() -> None:
    built = _layer_python() / "videotasks" / "catalog.json"
    assert built.is_file(), "the layer build must copy catalog.json beside the package's modules"
    assert built.read_bytes() == (ROOT / "layers/common/python/videotasks/catalog.json").read_bytes()


def test_the_built_ffmpeg_layer_holds_an_executable_arm64_ffmpeg() -> None:
    (binary,) = (_layer_python("FfmpegLayer") / "imageio_ffmpeg" / "binaries").glob("ffmpeg-*")
    assert _elf_machine(binary) == _ELF_MACHINES["aarch64"]
    assert os.access(binary, os.X_OK)  # /opt is read-only in Lambda: the bit must come with the zip


def test_compiled_packages_in_the_built_layer_are_for_arm64() -> None:
    binaries = list(_layer_python().rglob("*.so"))
    assert binaries
    assert all("aarch64" in binary.name or "abi3" in binary.name for binary in binaries)


@pytest.fixture(scope="module")
def handler_imports(pure_python_layer: Path) -> dict[str, dict[str, Any]]:
    """Each built function's ``app`` imported in turn, with its directory first on the path, in one
    isolated interpreter: no PYTHON* variables (so no PYTHONPATH to the source tree) and no coverage
    hooks, so only the built code and this venv's site-packages can be found."""
    function_dirs = {
        logical_id: str(BUILD / body["Properties"]["CodeUri"]) for logical_id, body in functions(_built()).items()
    }
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "COVERAGE"))}
    result = subprocess.run(
        [sys.executable, "-I", "-c", _IMPORT_HANDLERS, str(pure_python_layer), json.dumps(function_dirs)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    for logical_id, outcome in report.items():
        outcome["function_dir"] = function_dirs[logical_id]
    return report


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_built_handler_imports_with_the_built_layer(
    logical_id: str, handler_imports: dict[str, dict[str, Any]]
) -> None:
    assert logical_id in handler_imports, (
        f"{logical_id} is not in .aws-sam/build: the build is stale, run `make sam-build`"
    )
    outcome = handler_imports[logical_id]

    assert "error" not in outcome, outcome.get("error")
    origins = outcome["origins"]
    assert Path(origins["app"]).resolve() == (Path(outcome["function_dir"]) / "app.py").resolve()
    for name, origin in origins.items():
        if origin and name != "app":
            assert Path(origin).resolve().is_relative_to(_layer_python().resolve()), f"{name} came from {origin}"
    assert origins["videotasks"] is not None


def test_make_test_builds_before_pytest() -> None:
    # (c) relies on it: the build is the one made from this tree.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_target = re.search(r"^test:(.*)$", makefile, re.MULTILINE)
    assert test_target is not None
    assert "sam-build" in test_target.group(1)
