"""lowbit.deploy.export.weights: codes and α recovered exactly from stripped models; wrong scheme refused."""

import numpy as np
import pytest

from lowbit.deploy.export.weights import quantized_tensors, split
from lowbit.models import imdb
from lowbit.pipeline import qat
from lowbit.pipeline.schemes import CODE_VALUES


@pytest.mark.parametrize("scheme", ["bc", "tc", "qc"])
def test_codes_times_alpha_rebuild_every_quantized_weight(scheme):
    stripped = qat.strip(qat.quantize_model(imdb.build("gru", vocab_size=300), scheme))
    tensors = quantized_tensors(stripped, scheme)
    assert [t.name for t in tensors] == ["embedding/embeddings", "gru/kernel", "gru/recurrent_kernel",
                                         "positive/kernel"]
    for t in tensors:
        assert set(np.unique(t.codes).tolist()) <= set(CODE_VALUES[scheme])
        assert np.array_equal(t.values, stripped.get_layer(t.layer).get_weights()[0 if t.attribute != "recurrent_kernel" else 1])


def test_a_float_model_or_the_wrong_scheme_is_refused():
    float_model = imdb.build("lstm", vocab_size=300)
    with pytest.raises(ValueError, match="embedding/embeddings is not a tc tensor"):
        quantized_tensors(float_model, "tc")
    ternary = qat.strip(qat.quantize_model(float_model, "tc"))
    with pytest.raises(ValueError, match="not a bc tensor"):
        quantized_tensors(ternary, "bc")
    with pytest.raises(ValueError, match="valid choices"):
        quantized_tensors(ternary, "fp")


def test_split_handles_qc_halves_and_all_zero_tc():
    alpha = np.float32(0.037)
    w = np.array([-1, -0.5, 0.5, 1], np.float32) * alpha
    t = split(w, "qc", name="w")
    assert t.alpha == alpha and t.codes.tolist() == [-1, -0.5, 0.5, 1]
    zero = split(np.zeros(4, np.float32), "tc", name="z")
    assert zero.alpha == 0 and not zero.codes.any()
    with pytest.raises(ValueError, match="z is not a bc tensor"):
        split(np.zeros(4, np.float32), "bc", name="z")
