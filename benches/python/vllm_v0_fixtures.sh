#!/usr/bin/env bash
# Rebuilds tests/fixtures/vllm/v0_streams.jsonl.gz, the golden per-step
# decisions of vLLM 0.7.3's V0 scheduler with chunked prefill off (see
# benches/python/vllm_v0_reference.py).
#
#   bash benches/python/vllm_v0_fixtures.sh [VENV]
#
# Run from anywhere. Creates a virtual environment (in a new temporary
# folder, or at VENV; an existing VENV is reused as it is), installs
# benches/python/requirements-vllm-v0.txt from PyPI (vLLM pulls in torch: a
# few GB), runs the harness and writes the fixture file. CPU only; no GPU,
# model, weights or hub access are needed. The output is byte for byte the
# same on every run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

if [[ $# -ge 1 ]]; then
    venv="$1"
else
    tmp="$(mktemp -d -t aimsim-vllm-v0-XXXXXX)"
    trap 'rm -rf "$tmp"' EXIT
    venv="$tmp/venv"
fi

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet -r benches/python/requirements-vllm-v0.txt

out="tests/fixtures/vllm/v0_streams.jsonl.gz"
mkdir -p "$(dirname "$out")"
PYTHONHASHSEED=0 VLLM_LOGGING_LEVEL=ERROR TRANSFORMERS_VERBOSITY=error \
    "$venv/bin/python" benches/python/vllm_v0_reference.py --out "$out"
sha256sum "$out"
