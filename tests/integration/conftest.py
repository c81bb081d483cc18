"""Integration tests: a deployed TapStack, checked through the AWS APIs.

The same tests verify the embedded emulator and a real AWS deployment. The target is chosen
once per session:

``TAPSTACK_INTEGRATION_TARGET=aws``
    Real AWS with the ambient credentials (after ``make deploy``). Outputs are read from
    ``cfn-outputs/outputs.json`` (or ``$TAPSTACK_OUTPUTS_DIR/outputs.json``), the file
    ``make deploy`` writes with ``cdk deploy --outputs-file``. Every check runs.
``AWS_ENDPOINT_URL`` set (or ``TAPSTACK_INTEGRATION_TARGET=emulator``)
    An emulator that is already deployed, e.g. by ``make demo`` (which runs this suite
    that way) or ``make demo DEMO_ARGS=--keep``; outputs from the same file.
neither (plain ``make test``)
    The session starts a fresh emulator, deploys the app synthesized by the ``synth``
    fixture into it with the real CDK CLI, runs every test against it, and stops it at the
    end. So ``make test`` exercises the whole deploy on every run.

Missing outputs or a failed deployment fail the tests; they never skip. A check that the
emulator cannot support calls ``target.skip_in_emulator(resource_type, what)``: it is
skipped in emulator mode only, with a reason naming the resource type, and runs on AWS.

Configuration: ``TAPSTACK_CONFIG`` (default ``config/default.yaml``) describes what was
deployed; in the self-deploying mode the suite deploys the default configuration itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tapstack.cdk_cli import DEFAULT_OUTPUTS_FILE, flat_outputs, read_outputs
from tapstack.config import load_config, locate_config, parse_config
from tests.integration.support import (
    DEFAULT_OUTPUTS_DIR,
    OUTPUTS_VARIABLE,
    ROLES,
    TARGET_VARIABLE,
    Region,
    Target,
)
from tests.support import ROOT, default_config_data

OUTPUTS_FILE_NAME = DEFAULT_OUTPUTS_FILE.name


def _read_outputs(directory: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The outputs file ``cdk deploy --outputs-file`` wrote: {stack: {key: value}}."""
    path = directory / OUTPUTS_FILE_NAME
    if not path.exists():
        pytest.fail(
            f"{path} not found: deploy first (`make demo DEMO_ARGS=--keep` for the emulator; "
            "`make deploy` for AWS), "
            f"or unset AWS_ENDPOINT_URL and {TARGET_VARIABLE} to let the suite deploy a "
            "fresh emulator itself"
        )
    per_stack = read_outputs(path)
    return flat_outputs(per_stack), per_stack


def _external_target(mode: str, endpoint: str | None) -> Target:
    config = load_config(ROOT / locate_config())
    directory = Path(os.environ.get(OUTPUTS_VARIABLE) or DEFAULT_OUTPUTS_DIR)
    flat, per_stack = _read_outputs(directory)
    return Target(mode, endpoint, config, flat, per_stack, str(directory / OUTPUTS_FILE_NAME))


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    mode = os.environ.get(TARGET_VARIABLE, "").strip().lower()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    if mode not in ("", "aws", "emulator"):
        pytest.fail(f"{TARGET_VARIABLE} must be 'aws' or 'emulator', not {mode!r}")
    if mode == "aws":
        if endpoint:
            pytest.fail(f"{TARGET_VARIABLE}=aws, but AWS_ENDPOINT_URL={endpoint} is set")
        return _external_target("aws", None)
    if endpoint or mode == "emulator":
        if not endpoint:
            pytest.fail(f"{TARGET_VARIABLE}=emulator needs AWS_ENDPOINT_URL")
        return _external_target("emulator", endpoint)
    return _fresh_emulator(request, tmp_path_factory)


def _fresh_emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Target:
    from tapstack_lab.deploy import DeployError, deploy_to_emulator
    from tapstack_lab.emulator import Emulator, EmulatorError

    started = time.monotonic()
    synth = request.getfixturevalue("synth")  # the session's synthesized app (tests/conftest.py)
    synthesized = time.monotonic()
    config = parse_config(default_config_data(), "config/default.yaml")  # what `synth` built
    workdir = tmp_path_factory.mktemp("emulator")
    emulator = Emulator(workdir=workdir, account=config.account)
    try:
        emulator.start()
    except EmulatorError as error:
        pytest.fail(f"the emulator did not start: {error}")
    request.addfinalizer(emulator.stop)
    emulator_started = time.monotonic()
    log_path = workdir / "cdk.log"
    outputs_dir = tmp_path_factory.mktemp("cfn-outputs")
    with log_path.open("w") as log:
        try:
            result = deploy_to_emulator(
                emulator.environment(),
                synth.outdir,
                log=log,
                outputs_file=outputs_dir / OUTPUTS_FILE_NAME,
            )
        except DeployError as error:
            details = "\n".join(
                f"  {f.stack} [{f.region}] {f.logical_id} {f.resource_type}: {f.reason}"
                for f in error.failures
            )
            pytest.fail(
                f"deploying to the emulator failed: {error}\n{details}\n"
                f"CDK CLI log: {log_path}\n{error.output_tail}",
                pytrace=False,
            )
    flat, per_stack = _read_outputs(outputs_dir)
    return Target(
        mode="emulator",
        endpoint=emulator.endpoint,
        config=config,
        outputs=flat,
        stack_outputs=per_stack,
        source=f"fresh emulator deployment ({outputs_dir})",
        timings={
            "synth fixture": synthesized - started,
            "emulator start": emulator_started - synthesized,
            "bootstrap": result.bootstrap_seconds,
            "deploy": result.deploy_seconds,
        },
    )


@pytest.fixture(scope="session")
def regions(target: Target) -> dict[str, Region]:
    return {role: Region(target, role) for role in ROLES}


@pytest.fixture(scope="session", params=ROLES)
def region(request: pytest.FixtureRequest, regions: dict[str, Region]) -> Region:
    """Each test that takes ``region`` runs once per region."""
    return regions[request.param]


@pytest.fixture(scope="session")
def primary(regions: dict[str, Region]) -> Region:
    return regions["primary"]


@pytest.fixture(scope="session")
def secondary(regions: dict[str, Region]) -> Region:
    return regions["secondary"]
