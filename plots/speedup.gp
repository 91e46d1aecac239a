# speedup.gp - speed-up over dense (same kernel, seq_len, threads, shape)
# against density, one point per pattern variant and kernel at the largest
# seq_len of the run, with the ideal 1/density line: points on the line
# turn every skipped pair into saved time. Needs a dense pattern in the run.
load system("dirname '".ARG0."'")."/common.gp"

C_DENS = col("density")
C_N = col("seq_len")
C_PAT = col("pattern")
NMAX = int(system(sprintf("awk -F, 'NR>1 && $%d+0>m {m=$%d+0} END {print m+0}' '%s'", C_N, C_N, csv)))
# "density speedup" of pattern i, kernel j at n = NMAX, facet f, against the dense row of the same kernel
pts(i, j, f) = sprintf("< awk -F, -v OFS=, 'NR==FNR { if (FNR>1 && $%d==\"dense\" && $%d!=\"\") t[(%s) \"|\" (%s) \"|\" $%d]=$%d; next } FNR>1 && $%d==\"%s\" && (%s)==\"%s\" && (%s)==\"%s\" && $%d==%d && $%d!=\"\" && ((%s) \"|\" (%s) \"|\" $%d) in t {print $%d, t[(%s) \"|\" (%s) \"|\" $%d] / $%d}' '%s' '%s'", \
    C_PAT, C_TIME, KX, FX, C_N, C_TIME, \
    C_LABEL, PAT[i], KX, KER[j], FX, FACET[f], C_N, NMAX, C_TIME, \
    KX, FX, C_N, C_DENS, KX, FX, C_N, C_TIME, csv, csv)
HAS_DENSE = int(system(sprintf("awk -F, 'NR>1 && $%d==\"dense\" {n++} END {print n+0}' '%s'", C_PAT, csv)))
if (HAS_DENSE == 0) {
    print "sabench plots: speedup.gp left out: no dense pattern in this run to compare with"
    exit
}
set datafile nocolumnheaders
W = 560 * FC + 80
KR = key_rows(NP * NK, 560)
H = FR * (520 + KR * KEYROW) + 30
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, H font ",10" noenhanced } else { set terminal svg size W, H font ",10" noenhanced dynamic }
    set output sprintf("%s/speedup.%s", outdir, fmt)
    set multiplot layout FR, FC title sprintf("Speed-up over dense at n = %d (same kernel; line: ideal 1 / density)", NMAX)
    set logscale xy 10
    set format x "%g"
    set format y "%g"
    set xlabel "density (pairs of G / pairs of dense)"
    set ylabel "speed-up over dense (x)"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    set xrange [*:1.2]
    do for [f=1:NF] {
        set title facet(f)
        # a panel with no row that has a dense one beside it keeps a range
        N = 0
        do for [i=1:NP] { do for [j=1:NK] { N = N + nlines(pts(i, j, f)[3:]) } }
        if (N == 0) { set yrange [0.1:10]; set xrange [0.001:1.2] } else { set yrange [*:*]; set xrange [*:1.2] }
        plot for [i=1:NP] for [j=1:NK] pts(i, j, f) using 1:2 with points \
                lc rgb colour(i) pt marker(i, j) ps 1.5 title series(i, j), \
             1/x with lines lc rgb "#444444" dt 2 title "ideal: 1 / density"
    }
    unset multiplot
}
