"""The product package (``tapstack``) is what deploys and runs in AWS, plus the operator CLI:
it imports nothing from the lab (``tapstack_lab``: emulator, local deployer, MariaDB, demo),
and no two of its modules import each other, directly or through others."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tapstack.config import DEFAULT_CONFIG_PATH, locate_config
from tests.support import ROOT

PRODUCT = ROOT / "tapstack"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement sits (a function-level
    import is still a dependency), with relative imports resolved."""
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    package = package or _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(path): path for path in sorted(PRODUCT.rglob("*.py"))}
GRAPH = {
    name: {imported for imported in _imports(path) if imported in MODULES and imported != name}
    for name, path in MODULES.items()
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_product_module_imports_the_lab(module: str) -> None:
    lab = sorted(i for i in _imports(MODULES[module]) if i.split(".")[0] == "tapstack_lab")
    assert lab == [], f"{module} imports the lab: {lab}"


def test_no_import_cycle_in_the_product_package() -> None:
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        for imported in sorted(GRAPH[name]):
            if imported in path:
                cycles.append([*path[path.index(imported) :], imported])
            elif len(path) < 12:
                visit(imported, [*path, imported])

    for module in sorted(GRAPH):
        visit(module, [module])
    # A package's __init__ importing its own submodules is not a cycle between modules.
    real = [c for c in cycles if not any(a.startswith(f"{b}.") for a, b in zip(c, c[1:]))]
    assert real == [], "import cycles: " + "; ".join(" -> ".join(c) for c in real[:5])


def test_the_boundary_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = PRODUCT / "cli.py"
    assert "tapstack.teardown" in _imports(sample)  # imported inside cmd_destroy


def test_the_configuration_is_located_by_one_rule() -> None:
    environ = {"TAPSTACK_CONFIG": "config/staging.yaml"}
    assert locate_config("mine.yaml", environ) == Path("mine.yaml")
    assert locate_config(None, environ) == Path("config/staging.yaml")
    assert locate_config(None, {}) == Path(DEFAULT_CONFIG_PATH)
    assert locate_config("", {"TAPSTACK_CONFIG": ""}) == Path(DEFAULT_CONFIG_PATH)


@pytest.mark.parametrize("entry_point", ["app.py", "tapstack/cli.py", "tapstack_lab/demo.py"])
def test_every_entry_point_locates_the_configuration_through_that_rule(entry_point: str) -> None:
    source = (ROOT / entry_point).read_text()
    assert "locate_config(" in source
    assert '"config/default.yaml"' not in source


def test_cdk_json_names_no_configuration_so_tapstack_config_is_obeyed() -> None:
    """A ``tapstack:config`` context value in cdk.json would count as given explicitly and
    silently win over ``make CONFIG=...`` (``$TAPSTACK_CONFIG``)."""
    context = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    assert "tapstack:config" not in context
