"""What `sam build` (run by `make test` before pytest) would deploy: Lambda's view of the artifacts.

Lambda unpacks a layer into /opt and puts /opt/python on sys.path; a function's artifact is its code
root. The built binaries are arm64, so the checks look at the layout rather than importing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

BUILD = Path(__file__).resolve().parents[2] / ".aws-sam" / "build"


def _built_template() -> dict:
    if not (BUILD / "template.yaml").is_file():
        pytest.skip("no .aws-sam/build: `make sam-build` (part of `make test`) makes it")
    return yaml.load((BUILD / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, …) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _resources(kind: str) -> dict[str, dict]:
    template = _built_template()
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


@pytest.mark.xfail(
    strict=True,
    reason="template.yaml CommonLayer: ContentUri layers/common/ with BuildMethod python3.13 builds "
    "python/python/videotasks, so /opt/python has no videotasks package",
)
def test_built_layer_puts_the_videotasks_package_on_lambdas_python_path():
    layers = _resources("AWS::Serverless::LayerVersion")
    assert layers

    for name, body in layers.items():
        root = BUILD / body["Properties"]["ContentUri"]
        assert (root / "python" / "videotasks" / "__init__.py").is_file(), f"{name}: {sorted(root.rglob('videotasks'))}"


def test_built_layer_carries_its_dependencies_for_arm64():
    for body in _resources("AWS::Serverless::LayerVersion").values():
        site = BUILD / body["Properties"]["ContentUri"] / "python"
        assert (site / "aws_lambda_powertools").is_dir()
        assert (site / "pydantic").is_dir()
        assert list(site.glob("pydantic_core/_pydantic_core.*aarch64*.so"))


def test_every_built_function_has_its_handler_module():
    functions = _resources("AWS::Serverless::Function")
    default_handler = (_built_template().get("Globals") or {}).get("Function", {}).get("Handler")
    assert functions

    for name, body in functions.items():
        handler = body["Properties"].get("Handler") or default_handler
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        assert (BUILD / body["Properties"]["CodeUri"] / f"{module}.py").is_file(), name
