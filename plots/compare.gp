# compare.gp - the ratio B / A of median times per cell, one bar each: red
# when significantly slower, green when significantly faster (two-sided
# Mann-Whitney U, p < 0.05, beyond the threshold), grey otherwise. Input:
# cmp (a compare.csv of `sabench compare`) and outdir.
if (!exists("cmp") || !exists("outdir")) {
    print "usage: gnuplot -e \"cmp='D/compare.csv'; outdir='D'\" plots/compare.gp"
    exit status 2
}
set datafile separator comma
set termoption noenhanced
N = int(system(sprintf("awk -F, 'NR>1 && $4!=\"\" {n++} END {print n+0}' '%s'", cmp)))
if (N == 0) {
    print "sabench plots: compare.gp: no cell in both runs"
    exit
}
H = 200 + 18 * N
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [-1:N] reverse
set ytics font ",8"
set xlabel "median time B / A (below 1: B faster)"
set grid xtics lc "#dddddd"
set key off
colour(v) = v eq "slower" ? 0xd7301f : (v eq "faster" ? 0x1a9850 : 0x999999)
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1100, H font ",9" noenhanced } else { set terminal svg size 1100, H font ",9" noenhanced dynamic }
    set output sprintf("%s/compare.%s", outdir, fmt)
    set title "B against A per cell (red: slower, green: faster, significant at p < 0.05)"
    set arrow 1 from 1, graph 0 to 1, graph 1 nohead lc rgb "#333333" dt 2
    plot sprintf("< awk -F, 'NR>1 && $4!=\"\"' '%s'", cmp) using (1):($0):(1):($4):($0-0.35):($0+0.35):(colour(strcol(9))):ytic(1) \
        with boxxyerror lc rgb variable
}
