"""IMDB sentiment (paper §IV.A): Embedding(20000, 128) -> LSTM/GRU(128) -> Dense(1, sigmoid).

Regularisation (inactive at inference, absent from exported graphs): SpatialDropout1D(0.3) drops
whole embedding channels, and the recurrent layer's input dropout is 0.3. Measured on the full
data (one run each): with Keras' imdb_lstm dropout 0.2 alone, every model peaked after 1-2 epochs
(LSTM validation 85.0 % FP, 83.8 % QC); with this, 85.7 % and 84.3 %. Input dropout regularises without
``recurrent_dropout``, which would force Keras' generic RNN loop in training and block the fused
LSTM kernel; dropout is inactive at inference, so the exported graph is the plain layer.
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline.keras2 import keras

VOCAB_SIZE = 20_000
MAXLEN = 80
EMBEDDING_DIM = 128
UNITS = 128


def build(rnn: str, *, vocab_size: int = VOCAB_SIZE, maxlen: int = MAXLEN,
          units: int = UNITS, dropout: float = 0.3, embedding_dropout: float = 0.3) -> keras.Model:
    layers = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    if rnn not in layers:
        raise ValueError(f"unknown rnn {rnn!r}; valid choices: {', '.join(layers)}")
    tokens = keras.Input((maxlen,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, EMBEDDING_DIM, name="embedding")(tokens)
    if embedding_dropout:
        x = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    x = layers[rnn](units, dropout=dropout, name=rnn)(x)
    positive = keras.layers.Dense(1, activation="sigmoid", name="positive")(x)
    return keras.Model(tokens, positive, name=f"imdb_{rnn}")


def decisions(outputs: np.ndarray) -> np.ndarray:
    """Positive where P(positive) > 0.5, one decision per review."""
    return np.asarray(outputs).reshape(-1) > 0.5


def accuracy(truth: np.ndarray, outputs: np.ndarray) -> float:
    """Share of reviews whose decision matches the label (1 positive, 0 negative)."""
    return float(np.mean(decisions(outputs) == (np.asarray(truth).reshape(-1) > 0.5)))
