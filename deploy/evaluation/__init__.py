"""Evaluation: test sets as artifacts see them, the measurement harness, the report."""
