"""The summation problem (paper Fig. 11) as sequence to sequence:

one-hot question (7 x 12) -> encoder RNN(128) -> RepeatVector(4) -> decoder RNN(128, all steps)
-> TimeDistributed(Dense(12, softmax)): one answer symbol per step.
"""

from __future__ import annotations

import numpy as np

from lowbit.pipeline.data import summation
from lowbit.pipeline.data.summation import exact_match  # noqa: F401  (the task's test score)
from lowbit.pipeline.keras2 import keras

UNITS = 128


def build(rnn: str, *, digits: int = summation.DIGITS, units: int = UNITS) -> keras.Model:
    layers = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    if rnn not in layers:
        raise ValueError(f"unknown rnn {rnn!r}; valid choices: {', '.join(layers)}")
    symbols = len(summation.ALPHABET)
    question = keras.Input((summation.question_length(digits), symbols), name="question")
    x = layers[rnn](units, name="encoder")(question)
    x = keras.layers.RepeatVector(summation.answer_length(digits), name="repeat")(x)
    x = layers[rnn](units, return_sequences=True, name="decoder")(x)
    answer = keras.layers.TimeDistributed(
        keras.layers.Dense(symbols, activation="softmax"), name="answer"
    )(x)
    return keras.Model(question, answer, name=f"summation_{rnn}")


def decisions(outputs: np.ndarray) -> np.ndarray:
    """The answer symbol chosen at every step: ``(n, steps)``."""
    return np.argmax(outputs, axis=-1)


def test_measures(model, splits) -> dict:
    predicted = model.predict(splits.x_test, batch_size=256, verbose=0)
    return {"test_exact_match": summation.exact_match(splits.y_test, predicted)}
