"""The house's layers: every import inside lowbit (deferred ones included) points to its own layer
or one below (README "Architecture"); nothing imports the old top-level names; no module parses a
task's name for what the Task record says."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Import-package prefix -> folder in the repository (pyproject's package-dir).
FOLDERS = {"lowbit.pipeline": "pipeline", "lowbit.models": "models", "lowbit.deploy": "deploy", "lowbit": "lowbit"}

# Bottom to top. A module belongs to the first (longest) prefix that matches it.
LAYERS = [
    ("core", ["lowbit.pipeline.schemes", "lowbit.pipeline.errors", "lowbit.pipeline.quantizers",
              "lowbit.pipeline.quantize_configs", "lowbit.pipeline.qat", "lowbit.pipeline.keras2", "lowbit.pipeline.keras3",
              "lowbit.pipeline.atomic", "lowbit.pipeline.model_files", "lowbit.pipeline.downloads",
              "lowbit.pipeline.plotting", "lowbit.pipeline"]),
    ("data", ["lowbit.pipeline.data"]),
    ("models", ["lowbit.models"]),
    ("training", ["lowbit.pipeline.train"]),
    ("export", ["lowbit.deploy.export", "lowbit.deploy"]),
    ("runtimes and evaluation", ["lowbit.deploy.runtime", "lowbit.deploy.evaluation"]),
    ("android", ["lowbit.deploy.phone", "lowbit.deploy.android", "lowbit.deploy.apk"]),
    ("app", ["lowbit.pipeline.experiments", "lowbit.cli", "lowbit.main_job", "lowbit"]),
]


def layer_of(module: str) -> int:
    best = None
    for level, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (level, prefix)
    assert best is not None, f"{module} is in no layer; add it to LAYERS and README's Architecture"
    return best[0]


def lowbit_modules():
    """(module name, path) of every Python module that the lowbit package installs."""
    for prefix, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([prefix, *parts]), path


def imports(path: Path):
    """Every module an absolute import in the file names, at any depth (deferred ones too)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import; lowbit imports absolutely"
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_every_module_has_a_layer():
    for module, _ in lowbit_modules():
        layer_of(module)


MODULES = {module for module, _ in lowbit_modules()}


def upward_imports(module: str, path: Path) -> list[str]:
    own = layer_of(module)
    found = []
    for target in imports(path):
        if target not in MODULES or target == "lowbit":  # `from lowbit.x import name`: x counts
            continue
        if layer_of(target) > own:
            found.append(f"{path.name} ({LAYERS[own][0]}) imports {target} ({LAYERS[layer_of(target)][0]})")
    return found


def test_imports_point_down_or_sideways():
    assert [line for module, path in lowbit_modules() for line in upward_imports(module, path)] == []


def test_the_layer_check_catches_an_upward_import(tmp_path):
    path = tmp_path / "schemes.py"
    path.write_text("def f():\n    from lowbit.deploy.export import convert  # deferred, still upward\n")
    assert "schemes.py (core) imports lowbit.deploy.export.convert (export)" in upward_imports(
        "lowbit.pipeline.schemes", path)
    assert upward_imports("lowbit.cli", path) == []


@pytest.mark.parametrize("folder", ["lowbit", "pipeline", "models", "deploy", "tests"])
def test_nothing_imports_the_old_top_level_names(folder):
    old = []
    for path in (ROOT / folder).rglob("*.py"):
        for target in imports(path):
            if target.split(".")[0] in ("pipeline", "models", "deploy"):
                old.append(f"{path.relative_to(ROOT)}: {target}")
    assert old == []


TASK_NAME_PARSING = re.compile(
    r"""startswith\(\s*["'](imdb|summation|frames)|["'](imdb|summation|frames)-?["']\s*(==|!=|in)\b"""
    r"""|(\bfamily|(?<![.\w])kind)\s*==\s*["']|split\(["']-["']\)\[""")


def test_no_module_parses_task_names():
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for _, path in lowbit_modules()
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if TASK_NAME_PARSING.search(line)]
    assert offenders == []


def test_the_parsing_check_catches_what_it_is_for():
    for line in ['if task.startswith("imdb-"):', 'if test.family == "frames":', 'arch = name.split("-")[1]']:
        assert TASK_NAME_PARSING.search(line), line
    assert not TASK_NAME_PARSING.search('task = get_task("imdb-lstm")')


def test_layer_table_matches_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    for name, _ in LAYERS:
        assert name in section, f"README's Architecture section does not name the {name!r} layer"
