"""The user's model of this example: a Conv1D + bidirectional GRU speaker classifier for the
Japanese vowels features (29 frames x 12 LPC coefficients -> 9 speakers), saved untrained with its
compile configuration (loss and metric travel with the file; lowbit reads them from it).

    python make_model.py vowels_model.h5
"""

import sys

from lowbit.pipeline.keras2 import keras

L = keras.layers
keras.utils.set_random_seed(0)
frames = keras.Input((29, 12), name="frames")
x = L.Conv1D(32, 3, padding="causal", activation="relu", name="conv")(frames)
x = L.Bidirectional(L.GRU(32, dropout=0.1), name="bigru")(x)
speaker = L.Dense(9, activation="softmax", name="speaker")(x)
model = keras.Model(frames, speaker, name="vowels")
model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
model.save(sys.argv[1] if len(sys.argv) > 1 else "vowels_model.h5")
