"""lowbit.deploy.export.onnx_export: graph structure (native LSTM/GRU, no Loop, packed initializers of the right
byte size, no float copy of a quantized weight), weights decoded by the file's own graph, outputs
in onnxruntime vs Keras on 500 real reviews."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from lowbit.deploy.export import onnx_export
from lowbit.deploy.export.packing import packed_size
from lowbit.deploy.export.weights import quantized_tensors

SCHEMES = ["fp", "bc", "tc", "qc"]


@pytest.fixture(scope="module")
def exported(random_imdb_onnx):
    """The files of random-weight models: the same graphs as trained ones, for structure and weights."""
    return random_imdb_onnx


@pytest.fixture(scope="module")
def exported_trained(imdb_models):
    """The files of models trained on real reviews (slow tier), for the output comparisons."""
    return {key: onnx_export.convert_keras_model(model, scheme=key[1])
            for key, model in imdb_models["models"].items()}


def run_ort(blob: bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_graph_structure(exported, random_imdb_models, arch, scheme):
    proto = onnx.load_from_string(exported[(arch, scheme)])
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    assert "Loop" not in ops and "Scan" not in ops
    rnn = {"lstm": "DynamicQuantizeLSTM" if scheme != "fp" else "LSTM", "gru": "GRU"}[arch]
    assert ops.count(rnn) == 1
    if scheme == "fp":
        return
    assert "GatherBlockQuantized" in ops and "Gather" in ops  # Gather only inside unpack subgraphs
    # a float initializer holding a quantized weight would be a failure: none has their values
    keras_values = [np.sort(t.values.ravel()) for t in quantized_tensors(random_imdb_models["models"][(arch, scheme)], scheme)]
    for init in proto.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32:
            assert not any(arr.size == k.size and np.array_equal(np.sort(arr.ravel()), k) for k in keras_values), init.name


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme, bits", [("bc", 1), ("tc", 2), ("qc", 2)])
def test_packed_initializers_have_the_true_width(exported, random_imdb_models, arch, scheme, bits):
    proto = onnx.load_from_string(exported[(arch, scheme)])
    packed = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer if "/packed" in i.name}
    entries = onnx_export.stored_tensors(exported[(arch, scheme)])
    assert len(entries) == 4 and len(packed) == 4  # embedding, two RNN kernels, dense kernel
    for entry in entries:
        size = int(np.prod(entry["shape"]))
        [array] = [a for name, a in packed.items() if name.startswith(f"lowbit/{entry['name']}/packed{bits}_")]
        assert array.dtype == np.uint8 and array.size == packed_size(size, bits)
        assert entry["bits"] == bits


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", ["bc", "tc", "qc"])
def test_weights_decoded_by_the_file_equal_the_keras_weights(exported, random_imdb_models, arch, scheme):
    keras_model = random_imdb_models["models"][(arch, scheme)]
    decoded = onnx_export.read_weights(exported[(arch, scheme)])
    reference = quantized_tensors(keras_model, scheme)
    embedding = [v for name, v in decoded.items() if "embedding" in name]
    assert len(embedding) == 1 and np.array_equal(embedding[0], reference[0].values)  # row i = id i
    for ref in reference[1:]:  # tf2onnx transposes and reorders gates: compare as multisets
        matches = [v for v in decoded.values()
                   if v.size == ref.values.size and np.array_equal(np.sort(v.ravel()), np.sort(ref.values.ravel()))]
        assert matches, ref.name


@pytest.mark.parametrize("arch", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_outputs_match_keras_on_500_real_reviews(exported_trained, imdb_models, arch, scheme):
    x = imdb_models["x"]
    keras_scores = imdb_models["models"][(arch, scheme)].predict(x, verbose=0)
    scores = run_ort(exported_trained[(arch, scheme)], x)
    if scheme == "fp" or arch == "gru":  # float compute: the weights are exact
        assert np.abs(scores - keras_scores).max() <= 1e-5
    else:  # DynamicQuantizeLSTM quantizes activations at run time
        assert np.mean((scores > 0.5) == (keras_scores > 0.5)) >= 0.995


def test_a_model_whose_weights_are_not_found_is_refused(random_imdb_models):
    float_bytes = onnx_export.convert_keras_model(random_imdb_models["models"][("lstm", "fp")], scheme="fp")
    with pytest.raises(ValueError, match="not initializers of the ONNX main graph"):
        onnx_export.pack_weights(float_bytes, scheme="tc", reference=[np.ones((3, 5), np.float32)])
