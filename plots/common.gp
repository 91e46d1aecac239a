# common.gp - what every sabench plot shares. Input variables: csv (a
# results.csv) and outdir (where PNG and SVG go). Reads, with awk, the
# distinct pattern labels (one colour each), kernels (one marker each) and
# facets (threads x head_dim, one panel each), in file order.
if (!exists("csv") || !exists("outdir")) {
    print "usage: gnuplot -e \"csv='RESULTS/results.csv'; outdir='RESULTS/plots'\" plots/NAME.gp"
    exit status 2
}
set datafile separator comma
set datafile columnheaders
set termoption noenhanced

# Column number of a header name, 0 when the CSV lacks it.
col(name) = int(system(sprintf("awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i==\"%s\") {print i; exit} print 0; exit}' '%s'", name, csv)))
# Lines of a shell command's output, and its i-th line.
nlines(cmd) = int(system(cmd." | wc -l"))
line_of(cmd, i) = system(sprintf("%s | sed -n %dp", cmd, i))
# Distinct values of column c (file order), and of c1 "|" c2.
distinct(c) = sprintf("awk -F, 'NR>1 && !s[$%d]++ {print $%d}' '%s'", c, c, csv)
distinct2(c1, c2) = sprintf("awk -F, 'NR>1 && !s[$%d \"|\" $%d]++ {print $%d \"|\" $%d}' '%s'", c1, c2, c1, c2, csv)

C_LABEL = col("pattern_label")
C_KERNEL = col("kernel")
C_THREADS = col("threads")
C_HDIM = col("head_dim")
C_TIME = col("time_median_s")
if (C_LABEL * C_KERNEL * C_THREADS * C_HDIM == 0) {
    print sprintf("sabench plots: '%s' lacks pattern_label, kernel, threads or head_dim", csv)
    exit status 2
}

cmd = distinct(C_LABEL)
NP = nlines(cmd)
array PAT[NP]
do for [i=1:NP] { PAT[i] = line_of(cmd, i) }
# The kernel axis (one marker each): the kernel, joined by "/" with each
# of these shape columns that varies within the run, so that a series
# never joins rows that differ in more than seq_len (decode runs sweep
# kv_dtype and kv_layout; runs with several inputs join their label).
# KX is its awk expression.
KX = sprintf("$%d", C_KERNEL)
do for [v in "inputs score kv_dtype kv_layout mode causal batch heads kv_heads decode_steps dtype"] {
    cv = col(v)
    if (cv > 0) { if (nlines(distinct(cv)) > 1) { KX = KX.sprintf(" \"/\" $%d", cv) } }
}
cmd = sprintf("awk -F, 'NR>1 {k=%s; if (!s[k]++) print k}' '%s'", KX, csv)
NK = nlines(cmd)
array KER[NK]
do for [i=1:NK] { KER[i] = line_of(cmd, i) }
cmd = distinct2(C_THREADS, C_HDIM)
NF = nlines(cmd)
array FT[NF]
array FD[NF]
do for [i=1:NF] {
    s = line_of(cmd, i)
    FT[i] = s[1:strstrt(s, "|") - 1]
    FD[i] = s[strstrt(s, "|") + 1:]
}
if (NP == 0 || NK == 0) {
    print sprintf("sabench plots: '%s' has no rows", csv)
    exit status 2
}

# The rows of pattern i, kernel j in facet f, as a data source; with
# timed = 1 only rows that were timed (skipped and failed ones have no time).
sel(i, j, f, timed) = sprintf("< awk -F, 'NR==1 || ($%d==\"%s\" && (%s)==\"%s\" && $%d==%s && $%d==%s%s)' '%s'", \
    C_LABEL, PAT[i], KX, KER[j], C_THREADS, FT[f], C_HDIM, FD[f], \
    timed ? sprintf(" && $%d!=\"\"", C_TIME) : "", csv)
# Same, for the rows of a pattern alone (kernel-independent quantities).
sel_pat(i, f) = sprintf("< awk -F, 'NR==1 || ($%d==\"%s\" && (%s)==\"%s\" && $%d==%s && $%d==%s)' '%s'", \
    C_LABEL, PAT[i], KX, KER[1], C_THREADS, FT[f], C_HDIM, FD[f], csv)
series(i, j) = sprintf("%s, %s", PAT[i], KER[j])
facet(f) = sprintf("threads %s, head_dim %s", FT[f], FD[f])

# Colour per pattern, marker per kernel: the same in every picture. 24
# colours; past them a pattern's series take the next markers, so no two
# series of a run share both colour and marker (tests/test_review.c).
array COLOURS[24] = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", \
                     "#a6761d", "#666666", "#1f78b4", "#b2182b", "#35978f", "#8c510a", \
                     "#6a3d9a", "#ff7f00", "#33a02c", "#fb9a99", "#000000", "#b15928", \
                     "#01665e", "#c51b7d", "#4d9221", "#2166ac", "#dfc27d", "#8073ac"]
colour(i) = COLOURS[(i - 1) % 24 + 1]
cycle(i) = int((i - 1) / 24)
# marker of series j (of nj per pattern) of pattern i: point types 5-14
marker_of(i, j, nj) = ((j - 1) + nj * cycle(i)) % 10 + 5
marker(i, j) = marker_of(i, j, NK)
# marker of a series that is the pattern alone (useful FLOPs, KV cache)
pmark(i) = (2 + cycle(i)) % 10 + 5
dash(j) = (j - 1) % 5 + 1

# Opens output NAME.FMT for FMT png or svg at w x h pixels.
set macros

# Rows a key below a panel of width w pixels needs for k entries of about
# 300 pixels each; pictures grow by KEYROW pixels per key row.
key_rows(k, w) = int(ceil(k / floor(w / 300.0 > 1 ? w / 300.0 : 1)))
KEYROW = 15

# Growth exponent b of time ~ n^b for pattern i, kernel j, facet f: least
# squares on log-log (about 1 for windows, 2 for dense); 0 with < 2 points.
slope(i, j, f) = real(system(sprintf("awk -F, 'NR>1 && $%d==\"%s\" && (%s)==\"%s\" && $%d==%s && $%d==%s && $%d!=\"\" {x=log($%d); y=log($%d); n++; sx+=x; sy+=y; sxx+=x*x; sxy+=x*y} END {d=n*sxx-sx*sx; print (n>1 && d>0) ? (n*sxy-sx*sy)/d : 0}' '%s'", \
    C_LABEL, PAT[i], KX, KER[j], C_THREADS, FT[f], C_HDIM, FD[f], C_TIME, col("seq_len"), C_TIME, csv)))

# Peak GFLOP/s for t threads from a machine.yaml (0 when absent).
machine_value(key, t) = exists("machine") ? real(system(sprintf("awk -F'[{},:]' '/threads: %s,/ {for (i=1;i<=NF;i++) if ($i ~ /%s/) {print $(i+1)+0; exit}}' '%s' 2>/dev/null | head -1", t, key, machine))) : 0
peak_of(t) = (machine_value("fma_avx512_gflops", t) > machine_value("fma_avx2_gflops", t)) ? machine_value("fma_avx512_gflops", t) : machine_value("fma_avx2_gflops", t)
# The bf16 dot products' (AMX, else AVX512-BF16; 0 on CPUs with neither).
peak16_of(t) = (machine_value("bf16_amx_gflops", t) > machine_value("bf16_avx512bf16_gflops", t)) ? machine_value("bf16_amx_gflops", t) : machine_value("bf16_avx512bf16_gflops", t)

# Plots against seq_len run @SEQ_X: a run with one seq_len still gets a
# readable x axis (no empty range).
C_SEQ = col("seq_len")
NLO = real(system(sprintf("awk -F, 'NR>1 && (m==\"\" || $%d+0<m) {m=$%d+0} END {print m+0}' '%s'", C_SEQ, C_SEQ, csv)))
NHI = real(system(sprintf("awk -F, 'NR>1 && $%d+0>m {m=$%d+0} END {print m+0}' '%s'", C_SEQ, C_SEQ, csv)))
SEQ_X = (NLO == NHI && NLO > 0) ? sprintf("set xrange [%g:%g]", NLO / 1.5, NHI * 1.5) : "set autoscale x"
