"""lowbit.deploy.export.tflite_export: op structure, stored types and sizes, weights read back exactly, outputs
in stock LiteRT vs Keras on 500 real reviews."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from lowbit.deploy.export import tflite_export as te

OP_NAMES = {v: k for k, v in vars(te.OP).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(te.T).items() if not k.startswith("_")}
SCHEMES = ["fp", "bc", "tc", "qc"]


@pytest.fixture(scope="module")
def exported(random_imdb_models):
    """The files of random-weight models: the same graphs as trained ones, for structure and weights."""
    return {key: te.convert_keras_model(model, scheme=key[1]) for key, model in random_imdb_models["models"].items()}


@pytest.fixture(scope="module")
def exported_trained(imdb_models):
    """The files of models trained on real reviews (slow tier), for the output comparisons."""
    return {key: te.convert_keras_model(model, scheme=key[1]) for key, model in imdb_models["models"].items()}


def run_litert(flat: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=flat, num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    scores = []
    for row in x:
        interpreter.reset_all_variables()  # the fused LSTM keeps its state in variable tensors
        interpreter.set_tensor(inp, row[None])
        interpreter.invoke()
        scores.append(interpreter.get_tensor(out)[0])
    return np.array(scores)


def ops_of(flat):
    model = te.read(flat)
    return model, [[OP_NAMES[te.opcode(model, op)] for op in sg.operators] for sg in model.subgraphs]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_lstm_is_the_fused_op_and_weights_have_the_smallest_runnable_types(exported, random_imdb_models, scheme):
    flat = exported[("lstm", scheme)]
    model, ops = ops_of(flat)
    assert len(ops) == 1 and "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops[0] and "WHILE" not in ops[0]
    main = model.subgraphs[0]
    if scheme == "fp":
        return
    assert "GATHER" not in ops[0] and "EMBEDDING_LOOKUP" in ops[0]
    low = "INT4" if scheme == "qc" else "INT2"
    bits = 4 if scheme == "qc" else 2
    for op in main.operators:
        name = OP_NAMES[te.opcode(model, op)]
        if name == "EMBEDDING_LOOKUP":
            table = main.tensors[op.inputs[1]]
            assert TYPE_NAMES[table.type] == low
            assert len(model.buffers[table.buffer].data) == 2000 * 128 * bits // 8
        if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            for k in te.LSTM_GATE_INPUTS:
                gate = main.tensors[op.inputs[k]]
                assert TYPE_NAMES[gate.type] == "INT8" and len(model.buffers[gate.buffer].data) == 128 * 128
    # no float constant where a packed one was due: the only float32 data left are 1-D biases
    for tensor in main.tensors:
        data = model.buffers[tensor.buffer].data
        if data is not None and len(data) and tensor.type == te.T.FLOAT32:
            assert len(tensor.shape) == 1, tensor.name


@pytest.mark.parametrize("scheme", ["bc", "tc", "qc"])
def test_lstm_weights_read_back_equal_the_keras_weights(exported, random_imdb_models, scheme):
    keras_model = random_imdb_models["models"][("lstm", scheme)]
    model = te.read(exported[("lstm", scheme)])
    main = model.subgraphs[0]
    kernel, recurrent, _ = keras_model.get_layer("lstm").get_weights()
    units = recurrent.shape[0]
    checked = 0
    for op in main.operators:
        name = OP_NAMES[te.opcode(model, op)]
        if name == "EMBEDDING_LOOKUP":
            value, _, _ = te.tensor_value(model, main, op.inputs[1])
            assert np.array_equal(value, keras_model.get_layer("embedding").get_weights()[0])
            checked += 1
        elif name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            for g in range(4):  # gates i, f, c, o: Keras' column blocks, transposed
                w, _, _ = te.tensor_value(model, main, op.inputs[1 + g])
                r, _, _ = te.tensor_value(model, main, op.inputs[5 + g])
                assert np.array_equal(w, kernel[:, g * units:(g + 1) * units].T)
                assert np.array_equal(r, recurrent[:, g * units:(g + 1) * units].T)
                checked += 2
        elif name == "FULLY_CONNECTED":
            value, type_name, _ = te.tensor_value(model, main, op.inputs[1])
            assert type_name == ("INT4" if scheme == "qc" else "INT2")
            assert np.array_equal(value, keras_model.get_layer("positive").get_weights()[0].T)
            checked += 1
    assert checked == 10


@pytest.mark.parametrize("scheme", ["bc", "tc", "qc"])
def test_gru_loop_body_weights_are_int8_and_exact(exported, random_imdb_models, scheme):
    model, ops = ops_of(exported[("gru", scheme)])
    assert "WHILE" in ops[0] and "EMBEDDING_LOOKUP" in ops[0]
    keras_model = random_imdb_models["models"][("gru", scheme)]
    kernel, recurrent = keras_model.get_layer("gru").get_weights()[:2]
    found = []
    for sg in model.subgraphs[1:]:
        for op in sg.operators:
            if OP_NAMES[te.opcode(model, op)] == "FULLY_CONNECTED":
                value, type_name, size = te.tensor_value(model, sg, op.inputs[1])
                assert type_name == "INT8" and size == value.size
                found.append(value)
    assert len(found) == 2
    references = [kernel.T, recurrent.T]
    assert all(any(np.array_equal(v, r) for v in found) for r in references)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_outputs_match_keras_on_500_real_reviews(exported_trained, imdb_models, arch, scheme):
    x = imdb_models["x"]
    keras_scores = imdb_models["models"][(arch, scheme)].predict(x, verbose=0)
    scores = run_litert(exported_trained[(arch, scheme)], x)
    if scheme == "fp":
        assert np.abs(scores - keras_scores).max() <= 1e-5
    else:  # hybrid kernels quantize activations at run time
        assert np.mean((scores > 0.5) == (keras_scores > 0.5)) >= 0.995
        assert np.abs(scores - keras_scores).max() <= 0.05


@pytest.mark.parametrize("scheme, bits", [("bc", 2), ("tc", 2), ("qc", 4)])
def test_file_size_is_the_packed_weights_plus_a_small_overhead(exported, scheme, bits):
    weights = 2000 * 128 * bits // 8 + 8 * 128 * 128 + 128 * bits // 8  # embedding, gates, dense
    floats = 4 * (4 * 128 + 1)  # LSTM and Dense biases
    size = len(exported[("lstm", scheme)])
    assert weights + floats < size < weights + floats + 12_000
    assert len(exported[("lstm", "fp")]) > 4 * (2000 * 128 + 2 * 128 * 512)


def test_batch_size_must_be_positive(random_imdb_models):
    with pytest.raises(ValueError, match="batch_size must be positive"):
        te.convert_keras_model(random_imdb_models["models"][("lstm", "fp")], scheme="fp", batch_size=0)
