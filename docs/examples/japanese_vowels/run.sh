#!/bin/bash
# The real-dataset example: Japanese vowels (speech features shipped in the sktime wheel on PyPI)
# through lowbit run with a user's own model. Writes runs/examples/japanese_vowels/ and copies the
# report here. Run from the repository root: bash docs/examples/japanese_vowels/run.sh
set -euo pipefail
here=docs/examples/japanese_vowels
work=runs/examples/japanese_vowels
mkdir -p "$work"
lowbit=${LOWBIT:-.venv/bin/lowbit}
python=${PYTHON:-.venv/bin/python}
[ -f "$work/vowels.npz" ] || "$lowbit" dataset japanese-vowels --out "$work/vowels.npz"
[ -f "$work/vowels_model.h5" ] || "$python" "$here/make_model.py" "$work/vowels_model.h5"
"$lowbit" run --model "$work/vowels_model.h5" --data "$work/vowels.npz" --float-epochs 60 --epochs 30 \
    --batch-size 16 --patience 10 --out "$work/runs" --eval-runs 300
cp "$work/runs/report/report.md" "$work/runs/report/report.json" "$here/"
cp "$work"/runs/report/*.png "$here/" 2>/dev/null || true
