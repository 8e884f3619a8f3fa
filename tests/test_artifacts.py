"""lowbit.deploy.runtime.artifacts: every way a file can be wrong is refused with one line naming it, before a
runtime sees it; good artifacts pass, with their manifest."""

import json
import re
import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from lowbit.deploy.export import tflite_export as te
from lowbit.deploy.runtime.artifacts import ArtifactError, detect_format, open_artifact


@pytest.fixture
def run_copy(converted_runs, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(converted_runs["tc"], target)
    return target


def refused(path, pattern):
    """The file is refused with one line that names it and matches ``pattern`` (a regex)."""
    with pytest.raises(ArtifactError) as err:
        open_artifact(path)
    message = str(err.value)
    assert str(path) in message and re.search(pattern, message) and "\n" not in message, message
    return message


@pytest.mark.parametrize("name, fmt", [("model.tflite", "tflite"), ("model.onnx", "onnx")])
def test_exported_artifacts_open_with_their_manifest(converted_runs, name, fmt):
    artifact = open_artifact(converted_runs["tc"] / name)
    assert artifact.format == fmt and artifact.scheme == "tc" and artifact.task == "imdb-lstm"
    assert artifact.entry["sha256"] == artifact.sha256
    assert detect_format(artifact.content) == fmt


def test_missing_empty_and_unknown_files(tmp_path):
    refused(tmp_path / "absent.tflite", "no such file")
    (tmp_path / "empty.onnx").write_bytes(b"")
    refused(tmp_path / "empty.onnx", "empty")
    (tmp_path / "model.pt").write_bytes(b"x")
    refused(tmp_path / "model.pt", "unknown artifact type")
    (tmp_path / "dir.tflite").mkdir()
    refused(tmp_path / "dir.tflite", "not a regular file")
    (tmp_path / "text.tflite").write_text("hello, this is not a model")
    refused(tmp_path / "text.tflite", "neither a TFLite flatbuffer nor an ONNX model")


def test_content_that_contradicts_the_name_is_refused(converted_runs, tmp_path):
    shutil.copy(converted_runs["tc"] / "model.tflite", tmp_path / "model.onnx")
    refused(tmp_path / "model.onnx", "the content is tflite, but the name says onnx")


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_manifest_catches_truncation_and_flipped_bytes(run_copy, name):
    path = run_copy / name
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    refused(path, "truncated or replaced")
    flipped = bytearray(blob)
    flipped[len(blob) // 3] ^= 0x40
    path.write_bytes(bytes(flipped))
    refused(path, "does not match manifest.json")


def test_a_manifest_that_does_not_list_the_file_or_is_broken_is_refused(run_copy):
    manifest = json.loads((run_copy / "manifest.json").read_text())
    del manifest["artifacts"]["model.onnx"]
    (run_copy / "manifest.json").write_text(json.dumps(manifest))
    refused(run_copy / "model.onnx", "does not describe this file")
    (run_copy / "manifest.json").write_text("{not json")
    refused(run_copy / "model.tflite", "does not describe this file")


def write_without_manifest(tmp_path, name, blob: bytes):
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def edited_tflite(source, edit):
    model = te.read(source.read_bytes())
    edit(model)
    return te.write(model)


def test_tflite_structure_checks(converted_runs, tmp_path):
    source = converted_runs["tc"] / "model.tflite"
    blob = source.read_bytes()
    truncated = write_without_manifest(tmp_path, "truncated.tflite", blob[: len(blob) // 3])
    # a damaged flatbuffer, or a buffer that runs past the end: either way refused
    refused(truncated, r"damaged flatbuffer|runs past the end of the file|needs \d+ bytes")

    def bad_tensor_index(model):
        model.subgraphs[0].operators[0].inputs[0] = 10_000

    refused(write_without_manifest(tmp_path, "index.tflite", edited_tflite(source, bad_tensor_index)),
            "reads tensor 10000")

    def wrong_shape(model):
        sg = model.subgraphs[0]
        tensor = next(t for t in sg.tensors if model.buffers[t.buffer].data is not None
                      and len(model.buffers[t.buffer].data) > 1000)
        tensor.shape = [int(d) * 2 for d in tensor.shape]

    refused(write_without_manifest(tmp_path, "shape.tflite", edited_tflite(source, wrong_shape)),
            "the buffer has")

    def custom_op(model):
        model.operatorCodes[0].builtinCode = 32  # CUSTOM
        model.operatorCodes[0].deprecatedBuiltinCode = 32
        model.operatorCodes[0].customCode = b"FlexMatMul"

    refused(write_without_manifest(tmp_path, "custom.tflite", edited_tflite(source, custom_op)),
            "custom op 'FlexMatMul'")

    def bad_scale(model):
        tensor = next(t for sg in model.subgraphs for t in sg.tensors
                      if t.quantization is not None and t.quantization.scale is not None and len(t.quantization.scale))
        tensor.quantization.scale = [float("nan")] * len(tensor.quantization.scale)

    refused(write_without_manifest(tmp_path, "scale.tflite", edited_tflite(source, bad_scale)), "scale")


def test_onnx_structure_checks(converted_runs, tmp_path):
    blob = (converted_runs["tc"] / "model.onnx").read_bytes()
    refused(write_without_manifest(tmp_path, "cut.onnx", blob[: len(blob) // 2]),
            r"damaged ONNX protobuf|not a valid ONNX model")

    proto = onnx.load_from_string(blob)
    init = proto.graph.initializer[0]
    init.data_location = onnx.TensorProto.EXTERNAL
    entry = init.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    refused(write_without_manifest(tmp_path, "external.onnx", proto.SerializeToString()), "external data")

    proto = onnx.load_from_string(blob)
    proto.graph.node[0].input[0] = "no_such_value"
    refused(write_without_manifest(tmp_path, "dangling.onnx", proto.SerializeToString()), "not a valid ONNX model")

    proto = onnx.load_from_string(blob)
    del proto.graph.node[:]
    refused(write_without_manifest(tmp_path, "empty_graph.onnx", proto.SerializeToString()), "graph is empty")


def test_a_good_artifact_without_manifest_still_opens(converted_runs, tmp_path):
    blob = (converted_runs["fp"] / "model.onnx").read_bytes()
    artifact = open_artifact(write_without_manifest(tmp_path, "model.onnx", blob))
    assert artifact.manifest is None and artifact.scheme is None
    initializers = onnx.load_from_string(blob).graph.initializer
    assert any(numpy_helper.to_array(i).dtype == np.float32 for i in initializers)


def _fused_lstm_file() -> bytes:
    """TF's dynamic-range int8 fused LSTM of a small model."""
    from lowbit.pipeline.keras2 import keras, tf

    keras.utils.set_random_seed(0)
    x = keras.Input((6, 32), batch_size=1)  # gate matrices of 40 × 32 and 40 × 40: large enough
    model = keras.Model(x, keras.layers.LSTM(40)(x))  # for TF's dynamic-range quantizer
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


def _per_channel(flat: bytes) -> bytes:
    """Each int8 gate matrix's one scale as one scale per row, varied: the numbers LiteRT should
    then compute with (it computes with zeros)."""
    m = te.read(flat)
    for sg in m.subgraphs:
        for op in sg.operators:
            if te.opcode(m, op) != te.OP.UNIDIRECTIONAL_SEQUENCE_LSTM:
                continue
            for i in op.inputs:
                tensor = sg.tensors[i] if i >= 0 else None
                if tensor is not None and tensor.type == te.T.INT8 and len(tensor.quantization.scale) == 1:
                    rows = tensor.shape[0]
                    tensor.quantization.scale = [tensor.quantization.scale[0] * (1 + r / rows) for r in range(rows)]
                    tensor.quantization.zeroPoint = [0] * rows
                    tensor.quantization.quantizedDimension = 0
    return te.write(m)


def _lstm_output(flat: bytes) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flat)
    interpreter.allocate_tensors()
    x = np.random.default_rng(1).standard_normal((1, 6, 32)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_fused_lstm_with_per_channel_scales_is_refused(tmp_path):
    """The LiteRT trap the check exists for, measured: the same weights with per-channel scales
    give the output of an all-zero-weights LSTM (with Keras' biases, c and h stay 0), without an
    error. lowbit refuses such a file."""
    per_tensor = _fused_lstm_file()
    per_channel = _per_channel(per_tensor)
    assert np.abs(_lstm_output(per_tensor)).max() > 0.05
    assert not np.any(_lstm_output(per_channel))
    open_artifact(write_without_manifest(tmp_path, "per_tensor.tflite", per_tensor))  # accepted
    refused(write_without_manifest(tmp_path, "per_channel.tflite", per_channel), "fused LSTM with per-channel")
