# roofline.gp - achieved GFLOP/s against arithmetic intensity (useful
# FLOPs per compulsory byte), one point per cell, under the ceilings that
# `sabench machine` measured (ERT's piecewise form: min(peak, bandwidth x
# intensity)); without machine.yaml the points are drawn alone. Where the
# CPU has bf16 dot products (AMX, AVX512-BF16) their ceiling is drawn too,
# dashed: bf16 cells on those paths are judged against it. One panel per
# threads x head_dim.
load system("dirname '".ARG0."'")."/common.gp"
if (col("intensity") == 0 || col("gflops") == 0) {
    print "sabench plots: roofline.gp left out: the CSV has no intensity or gflops column"
    exit
}

C_INT = col("intensity")
XMAX = real(system(sprintf("awk -F, 'NR>1 && $%d+0>m {m=$%d+0} END {print m+0}' '%s'", C_INT, C_INT, csv)))
set xrange [0.05 : (XMAX > 1 ? XMAX * 4 : 4)]
set samples 400
W = 560 * FC + 80
KR = key_rows(NP * NK, 560)
H = FR * (520 + KR * KEYROW) + 30
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, H font ",10" noenhanced } else { set terminal svg size W, H font ",10" noenhanced dynamic }
    set output sprintf("%s/roofline.%s", outdir, fmt)
    set multiplot layout FR, FC title "Roofline: useful GFLOP/s against intensity (FLOP per compulsory byte)"
    set logscale xy 10
    set format x "%g"
    set format y "%g"
    set xlabel "intensity (FLOP/B)"
    set ylabel "useful GFLOP/s"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    do for [f=1:NF] {
        PEAK = peak_of(FT[f])
        PEAK16 = peak16_of(FT[f])
        BW = machine_value("triad_gbs", FT[f])
        set title facet(f)
        if (PEAK > 0 && BW > 0) {
            roof(x) = (x <= PEAK / BW ? BW * x : PEAK)
            roof16(x) = PEAK16 > 0 ? (x <= PEAK16 / BW ? BW * x : PEAK16) : 1/0
            set label 2 sprintf("%.0f GFLOP/s, %.0f GB/s", PEAK, BW) at graph 0.02, graph 0.95 font ",9"
            if (PEAK16 > 0) { set label 2 sprintf("%.0f GFLOP/s (bf16 %.0f), %.0f GB/s", PEAK, PEAK16, BW) }
        } else {
            roof(x) = 1/0
            roof16(x) = 1/0
            set label 2 "no ceilings: run 'sabench machine'" at graph 0.02, graph 0.95 font ",9"
        }
        plot for [i=1:NP] for [j=1:NK] sel(i, j, f, 1) using "intensity":"gflops" with points \
                lc rgb colour(i) pt marker(i, j) ps 1.3 title series(i, j), \
             roof(x) with lines lc rgb "#444444" lw 2 title "ceiling (measured)", \
             (PEAK16 > 0 ? roof16(x) : 1/0) with lines lc rgb "#444444" lw 2 dt 2 title (PEAK16 > 0 ? "bf16 ceiling (measured)" : "")
        unset label 2
    }
    unset multiplot
}
