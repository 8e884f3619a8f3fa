"""The summation problem (paper Fig. 11) as sequence to sequence:

one-hot question (7 x 12) -> encoder RNN(128) -> RepeatVector(4) -> decoder RNN(128, all steps)
-> TimeDistributed(Dense(12, softmax)): one answer symbol per step.
"""

from __future__ import annotations

from lowbit.pipeline.data import summation
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
