# e2e.gp - designs inside the real model: per context (a panel each) every
# design as a point of the KV bytes a sequence keeps per token against the
# KL it costs the model's next-token distribution, named, the front of
# each context as a line (no other design keeps less and moves the model
# less); a filled point kept the needle (passkey probability at least half
# the model's own), an open one lost it. KL 0 is drawn at 1e-6. Input
# variables: pts (e2e_front.csv, as `sabench plot` writes it), outdir.
if (!exists("pts") || !exists("outdir")) {
    print "usage: gnuplot -e \"pts='RESULTS/e2e_front.csv'; outdir='RESULTS/plots'\" plots/e2e.gp"
    exit status 2
}
set datafile separator comma
set termoption noenhanced
nlines(cmd) = int(system(cmd." | wc -l"))
line_of(cmd, i) = system(sprintf("%s | sed -n %dp", cmd, i))
ccmd = sprintf("awk -F, 'NR>1 && !s[$1]++ {print $1}' '%s'", pts)
NC = nlines(ccmd)
if (NC == 0) {
    print "sabench plots: e2e.gp left out: no design ran"
    exit
}
array CTX[NC]
do for [k=1:NC] { CTX[k] = line_of(ccmd, k) }
pcmd = sprintf("awk -F, 'NR>1 && !s[$3]++ {print $3}' '%s'", pts)
NP = nlines(pcmd)
array PAT[NP]
do for [i=1:NP] { PAT[i] = line_of(pcmd, i) }
array PALETTE[12] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", \
                     "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8"]
colour(i) = PALETTE[(i - 1) % 12 + 1]
# "kv kl pattern-index marker" of context k (marker 7 filled: the needle
# kept; 6 open: lost), its front, and every point's design name
pidx = ""
do for [i=1:NP] { pidx = pidx.sprintf("p[\"%s\"]=%d;", PAT[i], i) }
pts_of(k) = sprintf("< awk -F, 'BEGIN{%s} NR>1 && $1==\"%s\" {print $4, $5, p[$3], (($7==\"\" || $7>=0.5) ? 7 : 6)}' '%s'", \
    pidx, CTX[k], pts)
front(k) = sprintf("< awk -F, 'NR>1 && $1==\"%s\" && $6==1 {print $4, $5}' '%s' | sort -g", CTX[k], pts)
# names of designs at one point (the own pass and those that keep every
# key share KL 0) stacked upwards instead of over each other
names(k) = sprintf("< awk -F, 'NR>1 && $1==\"%s\" {key = $4 \" \" $5; print $4, $5 * 1.6 ^ (n[key]++), $2}' '%s'", CTX[k], pts)
do for [i=1:NP] { set linetype i lc rgb colour(i) }
set datafile separator whitespace
W = 640 * NC
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size W, 640 font ",10" noenhanced } else { set terminal svg size W, 640 font ",10" noenhanced dynamic }
    set output sprintf("%s/e2e.%s", outdir, fmt)
    set multiplot layout 1, NC title "Inside the model: KV per token against KL (filled: needle kept; line: front)"
    set logscale xy 10
    set format x "%g"
    set format y "%g"
    set grid xtics ytics lc "#dddddd"
    set key bottom right font ",8"
    set xlabel "KV bytes a sequence keeps per token (f16, every layer)"
    set ylabel "KL mean over the scored positions, nats (0 at 1e-6)"
    do for [k=1:NC] {
        set title sprintf("%s tokens", CTX[k])
        # pt variable reads the first extra column, lc variable the last
        plot pts_of(k) using 1:2:4:3 with points pt variable lc variable ps 1.4 notitle, \
             for [i=1:NP] NaN with points lc rgb colour(i) pt 7 title PAT[i], \
             front(k) using 1:2 with lines lc rgb "#444444" lw 1.5 title "front", \
             names(k) using 1:2:3 with labels font ",7" offset 0.6, 0.6 left notitle
    }
    unset multiplot
}
