# review.gp - a design review's picture: every design of review.csv (as
# `sabench review` writes it) as a point on the two limits that bind most
# (columns x and y), the region meeting both shaded, the limits dashed,
# each point named; green meets every limit, red fails one, grey has a
# figure no cell measured. Input variables: csv (review.csv), outdir,
# xname, yname, xlim, ylim (0: no limit on that axis), xle, yle (1: at
# most the limit passes, 0: at least), xlog, ylog, title.
# "x y names colour" of the designs with both axes known, those at one
# point together (green when one of them meets every limit)
# "x y names colour rank" of the designs with both axes known, those at one
# point together (green when one of them meets every limit), ranked by x so
# that neighbours' names alternate above and below their points
pts = sprintf("< awk -F, 'NR>1 && $18!=\"\" && $19!=\"\" {k = $18 \" \" $19; gsub(/ /, \"_\", $1); if (k in n) n[k] = n[k] \"/\" $1; else n[k] = $1; if (!(k in c) || $14==\"yes\") c[k] = $14==\"yes\" ? \"0x2a9d3f\" : $14==\"no\" ? \"0xd62728\" : \"0x888888\"} END {for (k in n) print k, n[k], c[k]}' '%s' | sort -g -k1,1 -k2,2 | awk '{print $0, NR}'", csv)
green(c) = strcol(c) eq "0x2a9d3f"
set datafile separator whitespace
set key outside right top vertical Left reverse
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1200, 700 font ",10" noenhanced } else { set terminal svg size 1200, 700 font ",10" noenhanced dynamic }
    set output sprintf("%s/review.%s", outdir, fmt)
    set title title
    set xlabel xname
    set ylabel yname
    if (xlog) { set logscale x 10 } else { unset logscale x }
    if (ylog) { set logscale y 10 } else { unset logscale y }
    set format x "%g"
    set format y "%g"
    set grid xtics ytics lc "#dddddd"
    set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08
    unset object 1
    unset arrow 1
    unset arrow 2
    if (xlim > 0 && ylim > 0) {
        if (xle && yle) { set object 1 rect from graph 0, graph 0 to first xlim, first ylim behind fc rgb "#e3f3e3" fs solid noborder }
        if (xle && !yle) { set object 1 rect from graph 0, first ylim to first xlim, graph 1 behind fc rgb "#e3f3e3" fs solid noborder }
        if (!xle && yle) { set object 1 rect from first xlim, graph 0 to graph 1, first ylim behind fc rgb "#e3f3e3" fs solid noborder }
        if (!xle && !yle) { set object 1 rect from first xlim, first ylim to graph 1, graph 1 behind fc rgb "#e3f3e3" fs solid noborder }
    }
    if (xlim > 0 && ylim <= 0) {
        if (xle) { set object 1 rect from graph 0, graph 0 to first xlim, graph 1 behind fc rgb "#e3f3e3" fs solid noborder } else { set object 1 rect from first xlim, graph 0 to graph 1, graph 1 behind fc rgb "#e3f3e3" fs solid noborder }
    }
    if (xlim > 0) { set arrow 1 from first xlim, graph 0 to first xlim, graph 1 nohead lc rgb "#2a7d2a" dt 2 lw 1.5 }
    if (ylim > 0) { set arrow 2 from graph 0, first ylim to graph 1, first ylim nohead lc rgb "#2a7d2a" dt 2 lw 1.5 }
    # failing and unmeasured designs first, the ones meeting every limit on
    # top with a ring: a feasible design is never hidden under another
    plot pts using 1:(green(4) ? NaN : $2):(int(strcol(4))) with points pt 7 ps 1.6 lc rgb variable notitle, \
         pts using 1:(green(4) ? $2 : NaN) with points pt 7 ps 1.6 lc rgb "#2a9d3f" notitle, \
         pts using 1:(green(4) ? $2 : NaN) with points pt 6 ps 2.6 lw 2 lc rgb "#1b5e20" notitle, \
         pts using 1:(int($5) % 2 ? $2 : NaN):3 with labels offset 0, 1.2 font ",8" notitle, \
         pts using 1:(int($5) % 2 ? NaN : $2):3 with labels offset 0, -1.2 font ",8" notitle, \
         NaN with points pt 7 ps 1.6 lc rgb "#2a9d3f" title "meets every limit", \
         NaN with points pt 7 ps 1.6 lc rgb "#d62728" title "fails a limit", \
         NaN with points pt 7 ps 1.6 lc rgb "#888888" title "a figure not measured", \
         NaN with lines lc rgb "#2a7d2a" dt 2 title "the limits (shaded: all met on these two)"
}
