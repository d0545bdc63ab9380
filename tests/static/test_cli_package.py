"""`pip install .` / `pipx install .` must give the `videotasks` command: the wheel pip builds from the
repository carries the entry point, the command line's package and the layer's package it imports, the
command line's requirements, and nothing else of the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the build reads (pyproject.toml's packages.find and dynamic dependencies), copied so that the build's
# own build/ and *.egg-info never land in the shared work tree.
SOURCES = [
    "pyproject.toml",
    "requirements-cli.txt",
    "layers/common/requirements.txt",
    "videotasks_cli",
    "layers/common/python",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin, copy = ROOT / name, source / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, copy)
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode and "No matching distribution found for setuptools" in build.stderr:
        pytest.skip("pip cannot fetch the build backend (setuptools) here: no package index")
    assert build.returncode == 0, build.stderr[-3000:]
    (built,) = out.glob("videotasks-*.whl")
    return zipfile.ZipFile(built)


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [entry for entry in wheel.namelist() if entry.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def test_the_wheel_declares_the_videotasks_command(wheel):
    entry_points = dist_info(wheel, "entry_points.txt")

    assert "[console_scripts]" in entry_points
    assert "videotasks = videotasks_cli.app:main" in entry_points


def test_the_wheel_carries_both_packages_and_nothing_else_of_the_repository(wheel):
    names = wheel.namelist()
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}

    assert tops == {"videotasks", "videotasks_cli"}
    for module in ("videotasks_cli/app.py", "videotasks_cli/commands/tasks.py", "videotasks/domain/wire.py"):
        assert module in names
    assert "videotasks/catalog.json" in names  # the layer reads its model catalog from it


def test_the_wheel_requires_the_command_lines_libraries(wheel):
    requires = [
        line.split(":", 1)[1].strip()
        for line in dist_info(wheel, "METADATA").splitlines()
        if line.startswith("Requires-Dist:")
    ]
    names = {
        requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for requirement in requires
    }

    assert {"typer", "rich", "websockets", "httpx", "pydantic"} <= names
