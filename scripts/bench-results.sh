#!/usr/bin/env bash
# Runs the benches whose figures docs/results.md publishes and prints them
# as markdown (scripts/benchmd):
#
#   scripts/bench-results.sh [OUTDIR]        (default: a temporary folder)
#
# 1. bsnnctl import of the fixture ResNet-20 (T = 4, AGMM) and its packed
#    export,
# 2. bench conv, bench train (2 threads, interleaved with PyTorch, parity
#    checked) and bench infer (packed engine, float engine, onnxruntime on the
#    BSNN and on the float ResNet-20), each with --json into OUTDIR,
# 3. the tables, on standard output.
#
# It needs Debian's python3-torch and onnxruntime (scripts/deps.sh). Run it
# on a machine with nothing else running: the reports carry the load average.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
BSNNCTL_ORT_LIB="${BSNNCTL_ORT_LIB:-$(bash scripts/deps.sh)}"
export BSNNCTL_ORT_LIB

go build -o "$out/bsnnctl" ./cli/bsnnctl
bsnnctl() { "$out/bsnnctl" "$@"; }
ann=testmodels/fixtures/resnet20_op13_folded_dynamic/model.onnx

bsnnctl import "$ann" -o "$out/resnet20_bsnn.onnx" >&2
bsnnctl export "$out/resnet20_bsnn.onnx" --profile packed -o "$out/resnet20_packed.onnx" >&2
bsnnctl bench conv --threads 2 --rounds 10 --json >"$out/conv.json"
bsnnctl bench train "$out/resnet20_bsnn.onnx" --threads 2 --rounds 10 --json >"$out/train.json"
bsnnctl bench infer "$out/resnet20_packed.onnx" --ann "$ann" --threads 2 --json >"$out/infer.json"
go run ./scripts/benchmd "$out/conv.json" "$out/train.json" "$out/infer.json"
echo "reports in $out" >&2
