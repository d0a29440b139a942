#!/usr/bin/env bash
# Rebuilds the golden per-step decisions of vLLM's schedulers that
# tests/fixtures/vllm/ holds:
#   v1  streams.jsonl.gz: vLLM 0.33.0's V1 scheduler
#       (benches/python/vllm_reference.py, requirements-vllm.txt);
#   v0  v0_streams.jsonl.gz: vLLM 0.7.3's V0 scheduler, chunked prefill off
#       (benches/python/vllm_v0_reference.py, requirements-vllm-v0.txt).
#
#   bash benches/python/vllm_fixtures.sh [v1|v0|all] [VENV]
#
# Run from anywhere. For each version asked for (all, the default: v1 then
# v0) it creates a virtual environment in a new temporary folder (removed
# once that version is done), installs the version's requirements from PyPI
# (vLLM pulls in torch: a few GB), runs the harness, writes the fixture file
# and prints its sha256. With v1 or v0, VENV is used instead of a temporary
# environment (an existing VENV is reused as it is). CPU only; no GPU, model
# weights or hub access are needed. The output is byte for byte the same on
# every run.
set -euo pipefail

usage() {
    echo "usage: bash benches/python/vllm_fixtures.sh [v1|v0|all] [VENV]" >&2
    echo "       (VENV only with v1 or v0: each vLLM needs its own environment)" >&2
    exit 2
}

which="${1:-all}"
case "$which" in
    v1 | v0) versions=("$which") ;;
    all) versions=(v1 v0) ;;
    *) usage ;;
esac
if [[ $# -gt 2 || ($# -eq 2 && "$which" == all) ]]; then
    usage
fi
venv_arg="${2:-}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

tmp=""
trap '[[ -z "$tmp" ]] || rm -rf "$tmp"' EXIT

for version in "${versions[@]}"; do
    case "$version" in
        v1) requirements=requirements-vllm.txt harness=vllm_reference.py out=streams.jsonl.gz ;;
        v0) requirements=requirements-vllm-v0.txt harness=vllm_v0_reference.py out=v0_streams.jsonl.gz ;;
    esac
    out="tests/fixtures/vllm/$out"

    if [[ -n "$venv_arg" ]]; then
        venv="$venv_arg"
    else
        tmp="$(mktemp -d -t "aimsim-vllm-$version-XXXXXX")"
        venv="$tmp/venv"
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        python3 -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet -r "benches/python/$requirements"

    PYTHONHASHSEED=0 VLLM_LOGGING_LEVEL=ERROR TRANSFORMERS_VERBOSITY=error \
        "$venv/bin/python" "benches/python/$harness" --out "$out"
    sha256sum "$out"

    if [[ -n "$tmp" ]]; then
        rm -rf "$tmp"
        tmp=""
    fi
done
