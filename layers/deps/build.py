"""Build the Lambda deps layer without Docker: ``pip install --target`` for the Lambda platform.

Usage: ``python layers/deps/build.py [--force]`` (``make layer``). The layer lands in
``build/deps-layer-<fingerprint>/python`` with its bytecode, the fingerprint keyed on the
requirements, platform, Python version and bytecode: a second run is a no-op, and worktrees sharing
``build/`` with other requirements each keep their own layer (no rebuild back and forth). The CDK
app calls ``ensure_layer()`` first.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"
BUILD_DIR = REPO_ROOT / "build"
LOCK = BUILD_DIR / "deps-layer.lock"

# Must match the functions' architecture and runtime in infra/constructs (arm64, python3.11).
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.11"
# Shipped by the Lambda Python runtime itself; never copied into the layer.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}


class LayerBuildError(RuntimeError):
    pass


def _fingerprint() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{PLATFORM}|{PYTHON_VERSION}|bytecode:unchecked-hash".encode())
    digest.update(importlib.util.MAGIC_NUMBER)
    return digest.hexdigest()


def _compile(site: Path) -> None:
    """Bytecode beside every module (unchecked-hash: a zip keeps no exact timestamps): Lambda's /opt
    is read-only, so without it every cold start compiles the layer's modules again. Only when this
    interpreter is the runtime's version; a file that does not compile (a template, another
    Python's code) is left as source, as pip leaves it."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION:
        compileall.compile_dir(
            site, quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )


def layer_dir() -> Path:
    """This worktree's layer: one directory per fingerprint."""
    return BUILD_DIR / f"deps-layer-{_fingerprint()[:16]}"


def _stamp() -> Path:
    """Beside the layer, not in it (the directory is the asset)."""
    return layer_dir().with_name(layer_dir().name + ".stamp")


def is_up_to_date() -> bool:
    return (
        _stamp().is_file()
        and _stamp().read_text().strip() == _fingerprint()
        and (layer_dir() / "python").is_dir()
    )


def _check_closure(site: Path) -> None:
    """Every requirement of every installed distribution is in the layer or in the runtime."""
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist
        for dist in importlib.metadata.distributions(path=[str(site)])
    }
    missing: list[str] = []
    environment = {"python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0"}
    for name, dist in sorted(installed.items()):
        for raw in dist.requires or []:
            req = Requirement(raw)
            marker_env = {**environment, "extra": ""}
            if req.marker is not None and not req.marker.evaluate(marker_env):
                continue
            dep = canonicalize_name(req.name)
            if dep in installed or dep in RUNTIME_PROVIDED:
                continue
            missing.append(f"{name} requires {raw}")
    if missing:
        raise LayerBuildError(
            "deps layer is incomplete; add these to layers/deps/requirements.txt:\n  " + "\n  ".join(missing)
        )


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One build at a time (parallel test workers synthesize at once)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(force: bool = False) -> Path:
    """Build the layer if needed and return its directory (the asset for the DepsLayer)."""
    if not force and is_up_to_date():
        return layer_dir()
    with _exclusive():
        if not force and is_up_to_date():  # another process built it while we waited
            return layer_dir()
        _build()
    return layer_dir()


def _build() -> None:
    target = layer_dir()
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    site = staging / "python"
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--no-compile",
        "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--target", str(site), "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LayerBuildError(
            f"pip could not build the deps layer ({exc}); command: {' '.join(command)}"
        ) from exc
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(site / "bin", ignore_errors=True)
    _check_closure(site)
    _compile(site)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    _stamp().write_text(_fingerprint() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp is current")
    args = parser.parse_args()
    up_to_date = not args.force and is_up_to_date()
    try:
        path = build(force=args.force)
    except LayerBuildError as exc:
        sys.exit(f"error: {exc}")
    print(f"deps layer {'up to date' if up_to_date else 'built'}: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
