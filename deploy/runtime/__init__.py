"""Runtimes: artifact checks, LiteRT / ONNX Runtime runners, predict, latency, memory, bench."""
