# flops.gp - top left: useful FLOPs per pattern (solid) and what each
# kernel executes (dashed) vs seq_len; top right: the waste factor,
# executed over useful; below: achieved useful GFLOP/s, one panel per
# facet (threads x head_dim, and inputs where they would crowd it). FLOP counts do not depend on threads: the top row
# shows the first facet. Writes flops.png and flops.svg.
load system("dirname '".ARG0."'")."/common.gp"
@SEQ_X

NC = FC < 2 ? 2 : FC
W = 560 * NC + 80
KR = key_rows(NP * NK, 560)
KR1 = key_rows(NP + NP * NK, 560)
H = (1 + FR) * (420 + (KR1 > KR ? KR1 : KR) * KEYROW)
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, H font ",10" noenhanced } else { set terminal svg size W, H font ",10" noenhanced dynamic }
    set output sprintf("%s/flops.%s", outdir, fmt)
    set multiplot layout 1 + FR, NC title "FLOPs: useful (4 head_dim |G|) against executed, and the rate achieved"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows (KR1 > KR ? KR1 : KR) width -2
    set logscale x 2
    set xlabel "seq_len (tokens)"

    set title sprintf("FLOP per forward pass (%s)", facet(1))
    set logscale y 10
    set format y "%.0e"
    set ylabel "FLOP"
    plot for [i=1:NP] sel_pat(i, 1) using "seq_len":"flops" \
            with linespoints lc rgb colour(i) pt pmark(i) lw 2 title sprintf("useful: %s", PAT[i]), \
         for [i=1:NP] for [j=1:NK] sel(i, j, 1, 0) using "seq_len":"flops_exec" \
            with linespoints lc rgb colour(i) pt marker(i, j) dt 2 lw 1 \
            title sprintf("executed: %s", series(i, j))

    set title "Waste: executed / useful FLOPs"
    set format y "%g"
    set ylabel "flops_exec / flops"
    plot for [i=1:NP] for [j=1:NK] sel(i, j, 1, 0) \
            using "seq_len":(column("flops_exec") / column("flops")) \
            with linespoints lc rgb colour(i) pt marker(i, j) dt dash(j) lw 1.5 \
            title series(i, j)
    do for [k=3:NC] { set multiplot next }

    unset logscale y
    set format y "%g"
    set ylabel "useful GFLOP/s"
    do for [f=1:NF] {
        set title sprintf("Achieved (%s)", facet(f))
        PEAK = peak_of(FT[f])
        set yrange [0:*]
        if (PEAK > 0) {
            set yrange [0:PEAK * 1.08]
            set label 1 sprintf("FMA peak %.0f GFLOP/s (sabench machine)", PEAK) at graph 0.02, first PEAK * 1.03 font ",9"
        }
        plot for [i=1:NP] for [j=1:NK] sel(i, j, f, 1) using "seq_len":"gflops" \
            with linespoints lc rgb colour(i) pt marker(i, j) dt dash(j) lw 1.5 \
            title series(i, j), \
            (PEAK > 0 ? PEAK : 1/0) with lines lc rgb "#444444" dt 3 lw 1.5 notitle
        unset label 1
        set autoscale y
    }
    unset multiplot
}
