"""Only pipeline/keras2.py (lowbit.pipeline.keras2) may decide the Keras import; everything else imports it from there."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"keras", "tf_keras", "tensorflow.keras", "tensorflow_model_optimization"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "tf" and node.attr == "keras":
                yield "tensorflow.keras"


def test_no_module_but_keras2_imports_keras_directly():
    offenders = []
    for package in ("lowbit", "pipeline", "models", "deploy", "tests"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "keras2.py" and package == "pipeline":
                continue
            for module in imported_modules(path):
                if module in FORBIDDEN or any(module.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []


def test_keras2_gives_keras_2():
    from lowbit.pipeline.keras2 import keras, tfmot

    assert keras.__version__.startswith("2.")
    layer = keras.layers.Dense(1)
    assert tfmot.quantization.keras.quantize_annotate_layer(layer).layer is layer
