#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` runs this file (see cdk.json).

The configuration file is found by ``tapstack.config.locate_config``, the rule every TapStack
entry point shares: the ``tapstack:config`` context value (``cdk synth -c tapstack:config=...``),
else the TAPSTACK_CONFIG environment variable, else config/default.yaml.
"""

from __future__ import annotations

import sys
import warnings

import aws_cdk as cdk

from tapstack.app import build_app
from tapstack.config import ConfigError, TapStackConfigWarning, load_config, locate_config


def main() -> int:
    app = cdk.App()
    path = locate_config(app.node.try_get_context("tapstack:config"))
    warnings.simplefilter("always", TapStackConfigWarning)
    warnings.formatwarning = lambda message, *args, **kwargs: f"WARNING: {message}\n"
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    build_app(config, app=app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
