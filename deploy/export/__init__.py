"""Export: packing, the weights a stripped model stores, TFLite and ONNX conversion, ``lowbit convert``."""
