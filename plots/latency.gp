# latency.gp - median time vs seq_len, log-log, one line per pattern x
# kernel, bars from the fastest to the 90th-percentile repetition, the
# fitted growth exponent of each line in its legend (time ~ n^b); one panel
# per facet (threads x head_dim, and inputs where they would crowd it). Writes latency.png and latency.svg.
load system("dirname '".ARG0."'")."/common.gp"
@SEQ_X
C_MIN = col("time_min_s")
C_P90 = col("time_p90_s")

W = 560 * FC + 80
KR = key_rows(NP * NK, 560)
H = FR * (480 + KR * KEYROW) + 30
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, H font ",10" noenhanced } else { set terminal svg size W, H font ",10" noenhanced dynamic }
    set output sprintf("%s/latency.%s", outdir, fmt)
    set multiplot layout FR, FC title "Latency: median time per forward pass (bars: min to p90)"
    set logscale x 2
    set logscale y 10
    set format y "%g"
    set xlabel "seq_len (tokens)"
    set ylabel "median time (s)"
    set grid xtics ytics mxtics mytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    do for [f=1:NF] {
        set title facet(f)
        plot for [i=1:NP] for [j=1:NK] sel(i, j, f, 1) \
            using "seq_len":"time_median_s":"time_min_s":"time_p90_s" \
            with yerrorlines lc rgb colour(i) pt marker(i, j) dt dash(j) lw 1.5 ps 1 \
            title sprintf("%s (n^%.2f)", series(i, j), slope(i, j, f))
    }
    unset multiplot
}
