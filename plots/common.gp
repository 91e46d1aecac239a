# common.gp - what every sabench plot shares. Input variables: csv (a
# results.csv) and outdir (where PNG and SVG go). Reads, with awk, the
# distinct pattern labels (one colour each), kernels (one marker each) and
# facets (threads x head_dim, and the axes moved out of the legend; one
# panel each), in file order.
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
# The shape columns that vary within the run (decode runs sweep kv_dtype
# and kv_layout; runs with several inputs join their label): each is
# either in the kernel axis of the legend or splits the panels, so that a
# series never joins rows that differ in more than seq_len.
VARYING = ""
do for [v in "inputs score kv_dtype kv_layout mode causal batch heads kv_heads decode_steps extend_tokens ragged dtype"] {
    cv = col(v)
    if (cv > 0) { if (nlines(distinct(cv)) > 1) { VARYING = VARYING." ".v } }
}
# The kernel axis (one marker each): the kernel, joined by "/" with each
# varying column not in FAXES. KX is its awk expression, NK its values.
in_list(w, list) = strstrt(" ".list." ", " ".w." ") > 0
kx_from(i) = i > words(VARYING) ? "" : \
    (in_list(word(VARYING, i), FAXES) ? "" : sprintf(" \"/\" $%d", col(word(VARYING, i)))).kx_from(i + 1)
kernel_axis(unused) = sprintf("$%d", C_KERNEL).kx_from(1)
count_of(expr) = nlines(sprintf("awk -F, 'NR>1 {k=%s; if (!s[k]++) print k}' '%s'", expr, csv))
FAXES = ""
KX = kernel_axis(0)
NK = count_of(KX)
# A panel holds about eight series at most: while it would hold more, the
# first varying column still in the legend (inputs, in most runs) splits
# the panels instead.
MAX_SERIES = 8
do for [w=1:words(VARYING)] {
    if (NP * NK > MAX_SERIES) {
        FAXES = FAXES." ".word(VARYING, w)
        KX = kernel_axis(0)
        NK = count_of(KX)
    }
}
cmd = sprintf("awk -F, 'NR>1 {k=%s; if (!s[k]++) print k}' '%s'", KX, csv)
array KER[NK]
do for [i=1:NK] { KER[i] = line_of(cmd, i) }
# The facet axis: threads x head_dim x the columns of FAXES; FX is the awk
# expression of a facet's title, which names it.
FX = sprintf("\"threads \" $%d \", head_dim \" $%d", C_THREADS, C_HDIM)
do for [v in FAXES] { FX = FX.sprintf(" \", %s \" $%d", v, col(v)) }
# (panels of timed rows only: a facet whose cells were all skipped, as
# the full-array kernels' in a compressed-cache decode, has nothing to draw)
cmd = sprintf("awk -F, 'NR>1 && $%d!=\"\" {k=%s; if (!s[k]++) print k}' '%s'", C_TIME, FX, csv)
NF = nlines(cmd)
array FACET[NF]
array FT[NF]
array FD[NF]
facet_value(f, c) = system(sprintf("awk -F, 'NR>1 && (%s)==\"%s\" {print $%d; exit}' '%s'", FX, FACET[f], c, csv))
do for [i=1:NF] {
    FACET[i] = line_of(cmd, i)
    FT[i] = facet_value(i, C_THREADS)
    FD[i] = facet_value(i, C_HDIM)
}
# Panels in rows of at most three (two for four panels): FR x FC.
FC = NF <= 3 ? NF : (NF == 4 ? 2 : 3)
FR = int(ceil(NF * 1.0 / FC))
if (NP == 0 || NK == 0) {
    print sprintf("sabench plots: '%s' has no rows", csv)
    exit status 2
}

# The rows of pattern i, kernel j in facet f, as a data source; with
# timed = 1 only rows that were timed (skipped and failed ones have no time).
sel(i, j, f, timed) = sprintf("< awk -F, 'NR==1 || ($%d==\"%s\" && (%s)==\"%s\" && (%s)==\"%s\"%s)' '%s'", \
    C_LABEL, PAT[i], KX, KER[j], FX, FACET[f], \
    timed ? sprintf(" && $%d!=\"\"", C_TIME) : "", csv)
# Same, for the rows of a pattern alone (kernel-independent quantities).
sel_pat(i, f) = sprintf("< awk -F, 'NR==1 || ($%d==\"%s\" && (%s)==\"%s\" && (%s)==\"%s\")' '%s'", \
    C_LABEL, PAT[i], KX, KER[1], FX, FACET[f], csv)
series(i, j) = sprintf("%s, %s", PAT[i], KER[j])
facet(f) = FACET[f]

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
slope(i, j, f) = real(system(sprintf("awk -F, 'NR>1 && $%d==\"%s\" && (%s)==\"%s\" && (%s)==\"%s\" && $%d!=\"\" {x=log($%d); y=log($%d); n++; sx+=x; sy+=y; sxx+=x*x; sxy+=x*y} END {d=n*sxx-sx*sx; print (n>1 && d>0) ? (n*sxy-sx*sy)/d : 0}' '%s'", \
    C_LABEL, PAT[i], KX, KER[j], FX, FACET[f], C_TIME, col("seq_len"), C_TIME, csv)))

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
