#!/bin/sh
# blas-parity.sh - sabench's blas kernel, and its tiled kernel, against
# bench/blas_plain (the obvious OpenBLAS program) on dense causal
# attention, heads 8, n 4096, head_dim 64 and 128, 2 threads: ROUNDS
# rounds that alternate sabench (blas and tiled interleaved in one run)
# and the plain program in the same minutes (the host drifts), each a
# median of 5 repetitions; prints each round and the median ratios
# blas / plain and tiled / plain of GFLOP/s.
#   sh bench/blas-parity.sh [SABENCH] [BLAS_PLAIN]     (make bench runs it)
set -eu
bin=${1:-build/sabench}
plain=${2:-build/blas_plain}
rounds=${ROUNDS:-5}
threads=${THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$plain" ] || { echo "blas-parity: no $plain (needs OpenBLAS); skipped"; exit 0; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for d in 64 128; do
  cat > "$tmp/e.yaml" <<YAML
name: blas-parity
shape: {batch: 1, heads: 8, kv_heads: 8, head_dim: $d, causal: true, threads: $threads}
sweep: {seq_len: [4096]}
patterns: [dense]
kernels: [blas, tiled]
run: {warmup: 1, repeats: 5, min_time_ms: 0}
quality: {enabled: false}
counters: []
YAML
  : > "$tmp/ratios"
  : > "$tmp/tiled"
  for r in $(seq "$rounds"); do
    p=$(OMP_NUM_THREADS=$threads "$plain" 8 4096 "$d" 5 | sed -n 's/.*, \([0-9.]*\) GFLOP\/s$/\1/p')
    "$bin" run "$tmp/e.yaml" -o "$tmp/out" --force >/dev/null 2>&1
    s=$(awk -F, 'NR==1 {for (i=1;i<=NF;i++) {if ($i=="gflops") c=i; if ($i=="kernel") k=i}} NR>1 && $k=="blas" {print $c}' "$tmp/out/results.csv")
    t=$(awk -F, 'NR==1 {for (i=1;i<=NF;i++) {if ($i=="gflops") c=i; if ($i=="kernel") k=i}} NR>1 && $k=="tiled" {print $c}' "$tmp/out/results.csv")
    echo "head_dim $d round $r: plain $p GFLOP/s, sabench blas $s GFLOP/s, tiled $t GFLOP/s"
    echo "$s $p" | awk '{print $1 / $2}' >> "$tmp/ratios"
    echo "$t $p" | awk '{print $1 / $2}' >> "$tmp/tiled"
  done
  echo "head_dim $d: sabench blas / plain = $(median < "$tmp/ratios"), tiled / plain = $(median < "$tmp/tiled") (medians of $rounds rounds)"
done
