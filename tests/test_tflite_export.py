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
def exported(random_imdb_tflite):
    """The files of random-weight models: the same graphs as trained ones, for structure and weights."""
    return random_imdb_tflite


@pytest.fixture(scope="module")
def exported_trained(imdb_models):
    """The files of models trained on real reviews (slow tier), for the output comparisons."""
    return {key: te.convert_keras_model(model, scheme=key[1]) for key, model in imdb_models["models"].items()}


def run_litert(flat: bytes, x: np.ndarray) -> np.ndarray:
    """One invoke per example and no reset in between: the files are stateless."""
    interpreter = Interpreter(model_content=flat, num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    scores = []
    for row in x:
        interpreter.set_tensor(inp, row[None])
        interpreter.invoke()
        scores.append(interpreter.get_tensor(out)[0])
    return np.array(scores)


def ops_of(flat):
    model = te.read(flat)
    return model, [[OP_NAMES[te.opcode(model, op)] for op in sg.operators] for sg in model.subgraphs]


def _scales(tensor) -> int:
    q = tensor.quantization
    return 0 if q is None or q.scale is None else len(q.scale)


def loop_kernels(model):
    """(value, type name, bytes, number of scales) of every FULLY_CONNECTED kernel in a WHILE body."""
    found = []
    for sg in model.subgraphs[1:]:
        for op in sg.operators:
            if OP_NAMES[te.opcode(model, op)] == "FULLY_CONNECTED":
                value, type_name, size = te.tensor_value(model, sg, op.inputs[1])
                found.append((value, type_name, size, _scales(sg.tensors[op.inputs[1]])))
    return found


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_recurrent_layers_are_loops_of_fully_connected_ops_with_low_bit_weights(exported, arch, scheme):
    flat = exported[(arch, scheme)]
    model, ops = ops_of(flat)
    assert "WHILE" in ops[0] and not any("UNIDIRECTIONAL_SEQUENCE_LSTM" in sub for sub in ops)
    assert sum(sub.count("FULLY_CONNECTED") for sub in ops[1:]) == 2  # input and recurrent kernels
    assert not any(t.isVariable for sg in model.subgraphs for t in sg.tensors)  # stateless
    if scheme == "fp":
        return
    main = model.subgraphs[0]
    assert "GATHER" not in ops[0] and "EMBEDDING_LOOKUP" in ops[0]
    low = "INT4" if scheme == "qc" else "INT2"
    bits = 4 if scheme == "qc" else 2
    table = next(main.tensors[op.inputs[1]] for op in main.operators if OP_NAMES[te.opcode(model, op)] == "EMBEDDING_LOOKUP")
    assert TYPE_NAMES[table.type] == low and len(model.buffers[table.buffer].data) == 2000 * 128 * bits // 8
    gates = 4 if arch == "lstm" else 3
    for value, type_name, size, scales in loop_kernels(model):
        assert type_name == low and scales == gates * 128  # one scale per output channel
        assert size == value.size * bits // 8
    # no float constant where a packed one was due: the only float32 data left are 1-D biases
    # and the all-zero initial states
    for sg in model.subgraphs:
        for tensor in sg.tensors:
            data = model.buffers[tensor.buffer].data
            if data is not None and len(data) > 64 and tensor.type == te.T.FLOAT32:
                assert len(tensor.shape) <= 1 or not np.any(np.asarray(data)), tensor.name


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", ["bc", "tc", "qc"])
def test_weights_read_back_equal_the_keras_weights(exported, random_imdb_models, arch, scheme):
    keras_model = random_imdb_models["models"][(arch, scheme)]
    model = te.read(exported[(arch, scheme)])
    main = model.subgraphs[0]
    for op in main.operators:
        name = OP_NAMES[te.opcode(model, op)]
        if name == "EMBEDDING_LOOKUP":
            value, _, _ = te.tensor_value(model, main, op.inputs[1])
            assert np.array_equal(value, keras_model.get_layer("embedding").get_weights()[0])
        elif name == "FULLY_CONNECTED":
            value, type_name, _ = te.tensor_value(model, main, op.inputs[1])
            assert type_name == ("INT4" if scheme == "qc" else "INT2")
            assert np.array_equal(value, keras_model.get_layer("positive").get_weights()[0].T)
    kernel, recurrent = keras_model.get_layer(arch).get_weights()[:2]
    stored = [value for value, *_ in loop_kernels(model)]  # per-channel scales applied
    assert len(stored) == 2
    assert all(any(np.array_equal(v, r.T) for v in stored) for r in (kernel, recurrent))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_consecutive_invokes_without_reset_give_the_same_output(exported, random_imdb_models, scheme):
    x = random_imdb_models["x"][:3]
    first = run_litert(exported[("lstm", scheme)], x)
    again = run_litert(exported[("lstm", scheme)], np.concatenate([x[2:], x[1:2], x]))[2:]
    assert np.array_equal(first, again)


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
    # embedding, gate kernels (+ a float scale per channel), dense
    # (per channel: a float32 scale and an int64 zero point, the schema's types)
    weights = 2000 * 128 * bits // 8 + 2 * (512 * 128 * bits // 8 + 12 * 512) + 128 * bits // 8
    floats = 4 * (4 * 128 + 1)  # LSTM and Dense biases
    size = len(exported[("lstm", scheme)])
    assert weights + floats < size < weights + floats + 12_000
    assert len(exported[("lstm", "fp")]) > 4 * (2000 * 128 + 2 * 128 * 512)


def test_batch_size_must_be_positive(random_imdb_models):
    with pytest.raises(ValueError, match="batch_size must be positive"):
        te.convert_keras_model(random_imdb_models["models"][("lstm", "fp")], scheme="fp", batch_size=0)
