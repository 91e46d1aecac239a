# memory.gp - KV-cache bytes to keep for decoding (per pattern), largest
# score buffer (per kernel), storage of the G-set (per pattern) and measured
# peak RSS (per pattern x kernel) vs seq_len, log scales, one panel each; the first threads x head_dim
# facet (memory does not depend on the thread count).
load system("dirname '".ARG0."'")."/common.gp"
@SEQ_X

W = 1200
KR = key_rows(NP * NK, 560)
H = 2 * (440 + KR * KEYROW)
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, H font ",10" noenhanced } else { set terminal svg size W, H font ",10" noenhanced dynamic }
    set output sprintf("%s/memory.%s", outdir, fmt)
    set multiplot layout 2, 2 title sprintf("Memory (%s)", facet(1))
    set logscale x 2
    set logscale y 10
    set format y "%.0s %cB"
    set xlabel "seq_len (tokens)"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    set title "KV cache kept for decoding"
    set ylabel "kv_cache_bytes"
    if (col("kv_cache_bytes")) {
        plot for [i=1:NP] sel_pat(i, 1) using "seq_len":"kv_cache_bytes" \
            with linespoints lc rgb colour(i) pt pmark(i) lw 1.5 title PAT[i]
    } else { print "sabench plots: memory.gp left out kv_cache_bytes (no such column)"; set multiplot next }
    set title "Largest score buffer"
    set ylabel "score_bytes"
    if (col("score_bytes")) {
        plot for [i=1:NP] for [j=1:NK] sel(i, j, 1, 0) using "seq_len":"score_bytes" \
            with linespoints lc rgb colour(i) pt marker(i, j) dt dash(j) lw 1.5 title series(i, j)
    } else { print "sabench plots: memory.gp left out score_bytes (no such column)"; set multiplot next }
    set title "Storage of the compiled G-set"
    set ylabel "pattern_bytes"
    if (col("pattern_bytes")) {
        plot for [i=1:NP] sel_pat(i, 1) using "seq_len":"pattern_bytes" \
            with linespoints lc rgb colour(i) pt pmark(i) lw 1.5 title PAT[i]
    } else { print "sabench plots: memory.gp left out pattern_bytes (no such column)"; set multiplot next }
    set title "Measured peak resident memory"
    set ylabel "peak_rss_bytes"
    if (col("peak_rss_bytes")) {
        plot for [i=1:NP] for [j=1:NK] sel(i, j, 1, 1) using "seq_len":"peak_rss_bytes" \
            with linespoints lc rgb colour(i) pt marker(i, j) dt dash(j) lw 1.5 title series(i, j)
    } else { print "sabench plots: memory.gp left out peak_rss_bytes (no such column)" }
    unset multiplot
}
