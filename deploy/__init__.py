"""``lowbit.deploy``: export (``export/``), runtimes (``runtime/``), evaluation (``evaluation/``) and Android bundling."""
