"""lowbit.deploy.export.xnnpack and the exporter's width choice: where LiteRT runs each op of small
hand-built recurrent graphs, read back from LiteRT itself, and every low-bit matrix op of lowbit's
files landing in XNNPACK with weights read back bit for bit."""

import numpy as np
import pytest

from lowbit.deploy.export import tflite_export as te
from lowbit.deploy.export import xnnpack
from lowbit.deploy.export.weights import quantized_tensors
from lowbit.pipeline.keras2 import keras
from lowbit.pipeline.quantize_configs import resolve, weight_paths

CODES = {"tc": [-1.0, 0.0, 1.0], "bc": [-1.0, 1.0], "qc": [-1.0, -0.5, 0.5, 1.0], "fp": [-0.3, 0.2, 0.7]}


def stripped_like(model, scheme: str, seed: int = 0):
    """``model`` with every quantized weight set to random ``scheme`` codes × 0.1, as strip leaves them."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for path in weight_paths(layer) or []:
            weight = resolve(layer, path)
            weight.assign(rng.choice(CODES[scheme], size=weight.shape).astype(np.float32) * np.float32(0.1))
    return model


def recurrent(kind: str, features: int, units: int, scheme: str):
    x = keras.Input((12, features), batch_size=1)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}[kind](units)
    return stripped_like(keras.Model(x, keras.layers.Dense(3)(layer(x))), scheme)


def loop_matrix_ops(flat):
    return [p for p in xnnpack.placements(flat) if p.subgraph > 0 and p.weights]


def read_back(flat, placement) -> np.ndarray:
    model = te.read(flat)
    subgraph = model.subgraphs[placement.subgraph]
    return te.tensor_value(model, subgraph, subgraph.operators[placement.index].inputs[1])[0]


# (kind, input features, units, scheme) -> stored type of (recurrent kernel, input kernel)
WIDTHS = {
    "lstm-channels-of-16-stay-int2": (("lstm", 16, 16, "tc"), ("INT2", "INT2")),
    "lstm-6-input-channels-int4": (("lstm", 6, 16, "tc"), ("INT2", "INT4")),
    "gru-10-units-and-6-features-int4": (("gru", 6, 10, "bc"), ("INT4", "INT4")),
    "simple-rnn-odd-channels-int8": (("simple", 7, 9, "tc"), ("INT8", "INT8")),
    "qc-odd-channels-int8": (("simple", 7, 9, "qc"), ("INT8", "INT8")),
    "qc-even-channels-int4": (("gru", 6, 10, "qc"), ("INT4", "INT4")),
}


FAST = ("lstm-6-input-channels-int4", "simple-rnn-odd-channels-int8")  # the rest in the slow tier


@pytest.mark.parametrize("case", [pytest.param(case, id=name, marks=() if name in FAST else pytest.mark.slow)
                                  for name, case in WIDTHS.items()])
def test_loop_kernels_take_the_narrowest_width_xnnpack_runs_and_stay_exact(case):
    (kind, features, units, scheme), expected = case
    model = recurrent(kind, features, units, scheme)
    flat = te.convert_keras_model(model, scheme=scheme)
    ops = loop_matrix_ops(flat)
    assert [p.op for p in ops] == ["FULLY_CONNECTED"] * 2
    by_input = {p.weight_shape[1]: p for p in ops}  # kernels are [out, in]
    recurrent_kernel, input_kernel = by_input[units], by_input[features]
    assert (recurrent_kernel.weights, input_kernel.weights) == expected
    assert all(p.xnnpack and p.per_channel for p in ops)
    stored = sorted(np.sort(read_back(flat, p).ravel()).tobytes() for p in ops)
    keras_weights = sorted(np.sort(t.values.ravel()).tobytes() for t in quantized_tensors(model, scheme)
                           if t.layer == model.layers[1].name)
    assert stored == keras_weights  # bit for bit


def test_an_int2_kernel_with_6_input_channels_is_seen_on_a_builtin_kernel():
    """The detector itself: the same GRU quantized without the width choice leaves its INT2
    kernels to LiteRT, and summary() names them."""
    from ai_edge_quantizer import quantizer

    model = recurrent("gru", 6, 10, "tc")
    flat = te.gather_to_embedding_lookup(te._tf_convert(model, 1))
    loop_fcs = [p.output for p in xnnpack.placements(flat) if p.subgraph > 0 and p.op == "FULLY_CONNECTED"]
    recipe = [te._recipe_entry("FULLY_CONNECTED", 2, hybrid=True, per_channel=True, regex=te._exact(name))
              for name in loop_fcs]
    narrow = bytes(quantizer.Quantizer(bytearray(flat), recipe).quantize(enable_progress_report=False).quantized_model)
    slow = xnnpack.summary(xnnpack.placements(narrow))["slow_low_bit"]
    assert len(slow) == 2 and all("FULLY_CONNECTED (INT2 per-channel)" in s for s in slow)


def test_convlstm_gate_convolutions_run_in_xnnpack_int8_per_channel_exact():
    x = keras.Input((3, 8, 8, 1), batch_size=1)
    y = keras.layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(x)
    model = stripped_like(keras.Model(x, keras.layers.Conv3D(1, (1, 3, 3), padding="same")(y)), "tc")
    flat = te.convert_keras_model(model, scheme="tc")
    gates = [p for p in xnnpack.placements(flat) if p.op == "CONV_2D" and p.weights != "FLOAT32"]
    assert len(gates) == 8 and all(p.weights == "INT8" and p.per_channel and p.xnnpack for p in gates)
    kernel = next(t.values for t in quantized_tensors(model, "tc") if t.attribute == "kernel")
    for p in gates:  # each gate convolution holds a quarter of the kernel or recurrent kernel, exactly
        assert np.isin(read_back(flat, p), np.unique(kernel)).all()
    assert xnnpack.summary(xnnpack.placements(flat))["slow_low_bit"] == []
    reconstruction = [p for p in xnnpack.placements(flat) if p.op == "CONV_3D"]
    assert len(reconstruction) == 1 and reconstruction[0].behind_dequantize and reconstruction[0].weights == "INT2"


def test_placements_cover_every_op_of_every_subgraph_and_the_summary_adds_up():
    model = recurrent("lstm", 16, 16, "tc")
    flat = te.convert_keras_model(model, scheme="tc")
    found = xnnpack.placements(flat)
    parsed = te.read(flat)
    assert [(p.subgraph, p.index) for p in found] == [
        (k, i) for k, sg in enumerate(parsed.subgraphs) for i in range(len(sg.operators))]
    s = xnnpack.summary(found)
    assert s["ops"] == len(found) and s["xnnpack"] == sum(p.xnnpack for p in found)
    assert sum(n for n, _ in s["histogram"].values()) == len(found)
    assert s["histogram"]["WHILE"] == [1, 0]  # control flow stays with LiteRT
    assert sum(s["not_xnnpack"].values()) == len(found) - s["xnnpack"]
    lines = xnnpack.lines(found)
    assert len(lines) == len(found) + 1 and lines[-1].startswith(f"  {s['xnnpack']} of {len(found)} ops")


@pytest.mark.slow  # converts a GRU
def test_subgraph_as_main_keeps_the_body_and_what_it_calls():
    model = recurrent("gru", 8, 8, "fp")
    flat = te.convert_keras_model(model, scheme="fp")
    original = te.read(flat)
    body = te.read(xnnpack.subgraph_as_main(flat, 2))
    assert len(body.subgraphs) == 1 and not body.signatureDefs
    assert [te.opcode(body, op) for op in body.subgraphs[0].operators] == \
        [te.opcode(original, op) for op in original.subgraphs[2].operators]
    main = te.read(xnnpack.subgraph_as_main(flat, 0))
    assert len(main.subgraphs) == 3  # the WHILE's condition and body follow it
