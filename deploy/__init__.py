"""Deployment: weight packing, TFLite and ONNX export, runtimes, evaluation, Android bundling."""
