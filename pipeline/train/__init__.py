"""Training: the QAT training loop with checkpoints and resume, the recipe, QAT step-time measurement."""
