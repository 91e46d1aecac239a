# heads.gp - recall per head and pattern as a heat map, one panel per
# inputs, at the largest seq_len of quality.csv (heads differ more than
# patterns do: a sink head loses to a window, a retrieval head to every
# static pattern). Input variables: quality (a quality.csv), outdir.
if (!exists("quality") || !exists("outdir")) {
    print "usage: gnuplot -e \"quality='RESULTS/quality.csv'; outdir='RESULTS/plots'\" plots/heads.gp"
    exit status 2
}
set termoption noenhanced
ROWS = int(system(sprintf("awk 'END {print NR - 1}' '%s' 2>/dev/null", quality)))
if (ROWS <= 0) {
    print "sabench plots: heads.gp left out: quality.csv has no rows"
    exit
}
NMAX = int(system(sprintf("awk -F, 'NR>1 && $6+0>m {m=$6+0} END {print m}' '%s'", quality)))
lines(cmd) = int(system(cmd." | wc -l"))
nth(cmd, i) = system(sprintf("%s | sed -n %dp", cmd, i))
# a panel per series: the inputs, with the score function (quality.csv's
# 24th column) where it is not plain
SERIES = "k = $2; if ($24 != \"plain\" && $24 != \"\") k = k \" / \" $24"
cin = sprintf("awk -F, 'NR>1 && $6==%d {%s; if (!s[k]++) print k}' '%s'", NMAX, SERIES, quality)
NI = lines(cin)
cpat = sprintf("awk -F, 'NR>1 && $6==%d && !s[$4]++ {print $4}' '%s'", NMAX, quality)
NP = lines(cpat)
array PAT[NP]
do for [i=1:NP] { PAT[i] = nth(cpat, i) }
NH = int(system(sprintf("awk -F, 'NR>1 && $13+1>m {m=$13+1} END {print m}' '%s'", quality)))
# "head pattern_index recall" of inputs k (pattern_index from the file order)
cells(k) = sprintf("< awk -F, '{k = \"\"} NR>1 && $6==%d {%s} k==\"%s\" {if (!($4 in p)) p[$4]=++n; print $13, p[$4] - 1, $16}' '%s'", NMAX, SERIES, nth(cin, k), quality)
htype(k, h) = system(sprintf("awk -F, '{k = \"\"} NR>1 && $6==%d {%s} k==\"%s\" && $13==%d {print $14; exit}' '%s'", NMAX, SERIES, nth(cin, k), h, quality))
set palette defined (0 "#b2182b", 0.5 "#fddbc7", 0.8 "#f7f7f7", 0.95 "#d1e5f0", 1 "#2166ac")
set cbrange [0:1]
set cblabel "recall"
set datafile separator whitespace
W = 140 + 70 * NH
H = 120 + 22 * NP
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size (W + 260) * NI, H + 120 font ",9" noenhanced } else { set terminal svg size (W + 260) * NI, H + 120 font ",9" noenhanced dynamic }
    set output sprintf("%s/heads.%s", outdir, fmt)
    set multiplot layout 1, NI title sprintf("Recall per head and pattern at n = %d", NMAX)
    do for [k=1:NI] {
        set title sprintf("inputs %s", nth(cin, k))
        set xrange [-0.5:NH - 0.5]
        set yrange [NP - 0.5:-0.5]
        set xtics rotate by -30 font ",8"
        set xtics ()
        do for [h=0:NH-1] { t = htype(k, h); set xtics add (sprintf("%d %s", h, t) h) }
        set ytics ()
        do for [i=1:NP] { set ytics add (PAT[i] i - 1) }
        plot cells(k) using 1:2:3 with image notitle, \
             cells(k) using 1:2:(sprintf("%.2f", $3)) with labels font ",7" notitle
    }
    unset multiplot
}
