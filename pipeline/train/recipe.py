"""How lowbit trains low-bit models: the float model first, then each quantized scheme by QAT
starting from the float weights (``lowbit train --init-from``), at a lower learning rate.

Measured on IMDB LSTM, full data, seed 0, early-stopped on the validation split (test accuracy):

* float: lr 1e-3 83.92 % (best epoch 1), 5e-4 84.12 %, 3e-4 84.48 % (best epoch 2);
* QC from scratch at 1e-3 (the paper's protocol) 82.96 %; QC from the 1e-3 float model at 3e-4
  83.96 %, at 1e-3 worse (validation 0.830 vs 0.848); TC 84.16 %, BC 83.14 % at 3e-4;
* QC from the 3e-4 float model (trained further, best epoch 2) at 1e-4 83.83 %, at 3e-4 82.17 %.

Used by ``lowbit run`` and ``lowbit reproduce imdb``, whose sweep also trains the paper's
protocol (every scheme from scratch at 1e-3) beside it, seed by seed.
"""

# A user's own data trains, unless told a number of epochs, until validation stops improving
# within this many optimizer steps (TrainConfig.step_budget). A fixed 2 epochs (the quick preset)
# were 8 steps on a 270-row dataset: a speaker classifier's fp 93.5 % became bc 50.5 %, tc 75.1 %.
USER_STEP_BUDGET = 2_000

FLOAT_LEARNING_RATE = 3e-4
FINETUNE_LEARNING_RATE = 1e-4
SCRATCH_LEARNING_RATE = 1e-3  # the paper's protocol (Keras' Adam default)
