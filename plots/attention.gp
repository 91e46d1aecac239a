# attention.gp - dense attention maps, one panel per head: colour is
# log10 of the weight over the uniform weight 1 / (i + 1) (0: uniform;
# 2: a hundred times more), rows queries i, columns keys j. Input
# variables: maps (an attention.dat written by `sabench attention`),
# labels (its attention.labels), n, outdir, name.
if (!exists("maps") || !exists("labels") || !exists("outdir")) {
    print "usage: gnuplot -e \"maps='D/attention.dat'; labels='D/attention.labels'; n=256; outdir='D'; name='attention'\" plots/attention.gp"
    exit status 2
}
if (!exists("name")) name = "attention"
if (!exists("n")) n = 0
set termoption noenhanced
NP = int(system(sprintf("wc -l < '%s'", labels)))
array LAB[NP]
do for [i=1:NP] { LAB[i] = system(sprintf("sed -n %dp '%s'", i, labels)) }
COLS = NP < 5 ? NP : (NP <= 8 ? 4 : 5)
ROWS = (NP + COLS - 1) / COLS
set palette defined (-2 "white", -1 "#f0f0f0", 0 "#c6dbef", 1 "#4292c6", 2 "#08519c", 3 "#08306b", 4 "black")
set cbrange [-2:4]
set cblabel "log10(weight x (i + 1))"
set size ratio -1
set yrange [*:*] reverse
unset xtics
unset ytics
set border lw 0.5
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 300 * COLS + 80, 320 * ROWS + 40 font ",9" noenhanced } else { set terminal svg size 300 * COLS + 80, 320 * ROWS + 40 font ",9" noenhanced dynamic }
    set output sprintf("%s/%s.%s", outdir, name, fmt)
    set multiplot layout ROWS, COLS title sprintf("Dense attention at n = %d (rows: queries i, columns: keys j)", n)
    do for [i=1:NP] {
        set title LAB[i]
        if (i < NP) { unset colorbox } else { set colorbox }
        plot maps index (i - 1) matrix with image notitle
    }
    unset multiplot
}
