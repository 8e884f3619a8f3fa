"""``lowbit.pipeline``: the quantization core (schemes, quantizers, tfmot configs, QAT, the one Keras
import), data (``data/``), training (``train/``) and the paper's experiments (``experiments/``).

The public API lives in :mod:`lowbit`.
"""
