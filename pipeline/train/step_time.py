"""Training step time of a QAT model against its float twin, measured interleaved.

The machines this runs on are noisy, so float and QAT steps alternate (F, Q, F, Q, ...) on the
same batch after a warm-up, and the ratio of medians is reported.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from lowbit.models import imdb
from lowbit.pipeline.keras2 import keras
from lowbit.pipeline.qat import quantize_model


@dataclass(frozen=True)
class StepTimes:
    arch: str
    scheme: str
    batch_size: int
    seq_len: int
    steps: int
    float_median_s: float
    qat_median_s: float

    @property
    def ratio(self) -> float:
        return self.qat_median_s / self.float_median_s

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def measure(
    arch: str = "lstm",
    scheme: str = "tc",
    *,
    batch_size: int = 64,
    seq_len: int = 80,
    steps: int = 30,
    warmup: int = 5,
    progress: bool = True,
) -> StepTimes:
    """Median seconds per ``train_on_batch`` step, float vs QAT, interleaved."""
    if steps <= 0 or warmup < 0 or batch_size <= 0 or seq_len <= 0:
        raise ValueError("steps, batch_size and seq_len must be positive and warmup >= 0")
    model = imdb.build(arch, maxlen=seq_len, dropout=0.0, embedding_dropout=0.0)  # time the layers only
    models = {"float": model, "qat": quantize_model(model, scheme)}
    for m in models.values():
        m.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20000, (batch_size, seq_len)).astype("int32")
    y = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    for m in models.values():
        for _ in range(warmup):
            m.train_on_batch(x, y)
    times = {name: [] for name in models}
    for _ in tqdm(range(steps), desc=f"{arch} float vs {scheme} QAT", disable=not progress):
        for name, m in models.items():
            start = time.perf_counter()
            m.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)
    return StepTimes(
        arch, scheme, batch_size, seq_len, steps,
        float(np.median(times["float"])), float(np.median(times["qat"])),
    )
