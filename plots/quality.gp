# quality.gp - what the patterns keep: recall against density at the
# largest seq_len (the diagonal is what a pattern keeps on inputs with no
# structure), and recall against seq_len per pattern. Colour per pattern,
# marker per inputs, first facet (threads x head_dim) of the run.
load system("dirname '".ARG0."'")."/common.gp"
C_REC = col("recall_mean")
C_IN = col("inputs")
C_DENSITY = col("density")
HAVE = C_REC > 0 ? int(system(sprintf("awk -F, 'NR>1 && $%d!=\"\" {n++} END {print n+0}' '%s'", C_REC, csv))) : 0
if (HAVE == 0 || C_IN == 0) {
    print "sabench plots: quality.gp left out: no recall in this run (quality: {enabled: false}?)"
    exit
}
cmd = distinct(C_IN)
NI = nlines(cmd)
array INP[NI]
do for [k=1:NI] { INP[k] = line_of(cmd, k) }
# one row per group: the first kernel's, first facet
q(i, k, cond) = sprintf("< awk -F, 'NR>1 && $%d==\"%s\" && $%d==\"%s\" && $%d==\"%s\" && $%d==%s && $%d==%s && $%d!=\"\"%s {print $%d, $%d, $%d}' '%s' | sort -g", \
    C_LABEL, PAT[i], C_IN, INP[k], C_KERNEL, KER[1][1:(strstrt(KER[1], "/") ? strstrt(KER[1], "/") - 1 : strlen(KER[1]))], \
    C_THREADS, FT[1], C_HDIM, FD[1], C_REC, cond, C_SEQ, C_DENSITY, C_REC, csv)
ptmark(k) = marker_of(1, k, NI)     # the legend entry of inputs k
set datafile nocolumnheaders
KR = key_rows(NP + NI, 1100)
H = 540 + KR * KEYROW
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1200, H font ",10" noenhanced } else { set terminal svg size 1200, H font ",10" noenhanced dynamic }
    set output sprintf("%s/quality.%s", outdir, fmt)
    set multiplot layout 1, 2 title sprintf("Recall: the share of the dense attention each pattern keeps (%s)", facet(1))
    set datafile separator whitespace
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    set yrange [0:1.05]
    set ylabel "recall (mean over rows)"
    set title sprintf("recall against density at n = %g", NHI)
    set logscale x 10
    set format x "%g"
    set xlabel "density (pairs of G / pairs of dense)"
    plot for [i=1:NP] for [k=1:NI] q(i, k, sprintf(" && $%d==%g", C_SEQ, NHI)) using 2:3 with points \
            lc rgb colour(i) pt marker_of(i, k, NI) ps 1.6 title (k == 1 ? PAT[i] : ""), \
         x with lines lc rgb "#999999" dt 2 title "recall = density", \
         for [k=1:NI] NaN with points lc rgb "#444444" pt ptmark(k) title sprintf("inputs %s", INP[k])
    set title "recall against seq_len"
    set xlabel "seq_len (tokens)"
    @SEQ_X
    plot for [i=1:NP] for [k=1:NI] q(i, k, "") using 1:3 with linespoints lc rgb colour(i) pt marker_of(i, k, NI) dt k notitle
    unset multiplot
}
