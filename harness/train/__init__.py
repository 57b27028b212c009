"""The accuracy study: a small byte-level GPT trained from scratch with MX weights, activations and
gradients (or fp32/bf16 baselines) on the Python standard library's sources.

Light on purpose (no torch import here): ``jitq --help`` imports the CLI module of this package.
Use :mod:`harness.train.loop` (``run_training``, ``preset``, ``TrainConfig``), :mod:`harness.train.model`
(``ByteGPT``, ``GPTConfig``), :mod:`harness.train.corpus` and :mod:`harness.train.record`.
"""
