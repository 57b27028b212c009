#!/usr/bin/env bash
# Runs inside the freshly created conda environment (snakemake --use-conda), from the working directory:
# installs the harness from the repository's working tree.
set -euo pipefail
python -m pip install --no-deps -e .
