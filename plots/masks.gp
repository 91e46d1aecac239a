# masks.gp - the pattern pictures side by side: one panel per pattern, a
# cell per pair at small n (black kept, white skipped; grey: the fraction
# kept when a cell stands for several pairs). Input variables: masks (a
# masks.dat written by sabench), labels (its masks.labels), n, outdir, and
# optional name (default "masks").
if (!exists("masks") || !exists("labels") || !exists("outdir")) {
    print "usage: gnuplot -e \"masks='D/masks.dat'; labels='D/masks.labels'; n=64; outdir='D'\" plots/masks.gp"
    exit status 2
}
if (!exists("name")) name = "masks"
if (!exists("n")) n = 0
set termoption noenhanced
NP = int(system(sprintf("wc -l < '%s'", labels)))
array LAB[NP]
do for [i=1:NP] { LAB[i] = system(sprintf("sed -n %dp '%s'", i, labels)) }
COLS = NP < 4 ? NP : (NP <= 9 ? 3 : (NP <= 16 ? 4 : 5))
ROWS = (NP + COLS - 1) / COLS
set palette defined (0 "white", 0.001 "#d0d8e8", 1 "#08306b")
set cbrange [0:1]
unset colorbox
set size ratio -1
set yrange [*:*] reverse
unset xtics
unset ytics
set border lw 0.5
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 300 * COLS, 320 * ROWS + 40 font ",9" noenhanced } else { set terminal svg size 300 * COLS, 320 * ROWS + 40 font ",9" noenhanced dynamic }
    set output sprintf("%s/%s.%s", outdir, name, fmt)
    set multiplot layout ROWS, COLS title sprintf("G-sets at n = %d (rows: queries i, columns: keys j; dark = kept)", n)
    do for [i=1:NP] {
        set title LAB[i]
        plot masks index (i - 1) matrix with image notitle
    }
    unset multiplot
}
