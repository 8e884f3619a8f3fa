"""The paper's experiments (``lowbit reproduce``) and their figures."""
