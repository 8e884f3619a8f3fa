#!/bin/bash
# The multi-class text example: language identification of short texts (Debian's fortunes*
# packages in 8 languages) through lowbit run with no model of its own (lowbit's default text
# classifier), deployed into the Android demo. Writes runs/examples/fortunes_langid/ and copies the
# report here. Run from the repository root: bash docs/examples/fortunes_langid/run.sh
set -euo pipefail
here=docs/examples/fortunes_langid
work=runs/examples/fortunes_langid
lowbit=${LOWBIT:-.venv/bin/lowbit}
[ -d "$work/corpus" ] || "$lowbit" dataset fortunes-langid --out "$work/corpus"
"$lowbit" run --data "$work/corpus" --vocab-size 20000 --max-tokens 40 --float-epochs 6 --epochs 3 \
    --out "$work/runs" --eval-runs 300
cp "$work/runs/report/report.md" "$work/runs/report/report.json" "$work"/runs/report/*.png "$here/"
