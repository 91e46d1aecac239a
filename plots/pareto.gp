# pareto.gp - the design-review chart: per inputs and pattern, speed-up of
# its best kernel over dense's best (same inputs and shape, at the run's
# largest seq_len and thread count) against the share of the dense
# attention it keeps (recall_mean); the Pareto front of each inputs drawn
# as a line (no other pattern is both faster and keeps more). Second panel:
# the output error on a log axis. Input variables: csv, outdir, and pareto
# (the pareto.csv `sabench plot` writes beside results.csv).
load system("dirname '".ARG0."'")."/common.gp"
if (!exists("pareto")) { pareto = system(sprintf("dirname '%s'", csv))."/pareto.csv" }
pcol(name) = int(system(sprintf("awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i==\"%s\") {print i; exit} print 0; exit}' '%s'", name, pareto)))
P_IN = pcol("inputs"); P_LAB = pcol("pattern_label"); P_REC = pcol("recall_mean")
P_SP = pcol("speedup"); P_ERR = pcol("out_err_mean"); P_FRONT = pcol("pareto")
HAVE = int(system(sprintf("awk -F, 'NR>1 && $%d!=\"\" && $%d!=\"\" {n++} END {print n+0}' '%s' 2>/dev/null", P_REC, P_SP, pareto)))
if (HAVE == 0) {
    print "sabench plots: pareto.gp left out: no pattern has both a recall and a speed-up over dense (quality off, or no dense pattern)"
    exit
}
cmd = sprintf("awk -F, 'NR>1 && !s[$%d]++ {print $%d}' '%s'", P_IN, P_IN, pareto)
NI = nlines(cmd)
array INP[NI]
do for [k=1:NI] { INP[k] = line_of(cmd, k) }
NMAX = system(sprintf("awk -F, 'NR==2 {print $4 \" tokens, \" $5 \" threads, head_dim \" $6}' '%s'", pareto))
# "recall speedup err" of pattern i on inputs k; the front of inputs k by recall
pt(i, k) = sprintf("< awk -F, 'NR>1 && $%d==\"%s\" && $%d==\"%s\" && $%d!=\"\" && $%d!=\"\" {e=$%d+0; print $%d, $%d, (e > 1e-6 ? e : 1e-6)}' '%s'", \
    P_LAB, PAT[i], P_IN, INP[k], P_REC, P_SP, P_ERR, P_REC, P_SP, pareto)
front(k) = sprintf("< awk -F, 'NR>1 && $%d==\"%s\" && $%d==1 {e=$%d+0; print $%d, $%d, (e > 1e-6 ? e : 1e-6)}' '%s' | sort -g", \
    P_IN, INP[k], P_FRONT, P_ERR, P_REC, P_SP, pareto)
ptmark(k) = marker_of(1, k, NI)     # the legend entry of inputs k
set datafile nocolumnheaders
set datafile separator whitespace
KR = key_rows(NP + NI, 1100)
H = 560 + KR * KEYROW
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1200, H font ",10" noenhanced } else { set terminal svg size 1200, H font ",10" noenhanced dynamic }
    set output sprintf("%s/pareto.%s", outdir, fmt)
    set multiplot layout 1, 2 title sprintf("What each pattern costs and keeps, at %s (colour: pattern, marker: inputs; line: Pareto front)", NMAX)
    set logscale y 10
    set format y "%g"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    set xlabel "recall: share of the dense attention kept (mean over rows)"
    set ylabel "speed-up over dense (best kernel each)"
    set xrange [0:1.02]
    set title "speed-up against recall"
    plot for [i=1:NP] for [k=1:NI] pt(i, k) using 1:2 with points lc rgb colour(i) pt marker_of(i, k, NI) ps 1.6 \
            title (k == 1 ? PAT[i] : ""), \
         for [k=1:NI] front(k) using 1:2 with lines lc rgb "#444444" dt k lw 1.5 title sprintf("front, %s", INP[k]), \
         for [k=1:NI] NaN with points lc rgb "#444444" pt ptmark(k) title sprintf("inputs %s", INP[k])
    set title "speed-up against output error (dense at the 1e-6 floor)"
    set logscale x 10
    set xrange [*:*]
    set format x "%g"
    set xlabel "output error: ||o_G - o_dense|| / ||o_dense|| (mean over rows)"
    plot for [i=1:NP] for [k=1:NI] pt(i, k) using 3:2 with points lc rgb colour(i) pt marker_of(i, k, NI) ps 1.6 notitle
    unset logscale x
    unset multiplot
}
