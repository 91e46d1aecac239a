# kv.gp - the KV-budget chart: per inputs, every decoded design (pattern x
# kv_dtype) as a point of bytes its cache stores per context token against
# the output error it costs (its G over the values its cache holds, against
# dense f32), the Pareto front as a line, and the budget per token (the
# run's kv_budget over seq_len) as a vertical line when one is set. So
# "fewer keys" and "fewer bits" sit on the same axes. Input variables:
# csv, outdir (kv_front.csv is read beside csv, as `sabench plot` writes it).
load system("dirname '".ARG0."'")."/common.gp"
kv = system(sprintf("dirname '%s'", csv))."/kv_front.csv"
HAVE = int(system(sprintf("awk 'END {print NR - 1}' '%s' 2>/dev/null", kv)))
if (HAVE <= 0) {
    print "sabench plots: kv.gp left out: no decode cell with a quality measure"
    exit
}
cmd = sprintf("awk -F, 'NR>1 && !s[$1]++ {print $1}' '%s'", kv)
NI = nlines(cmd)
array INP[NI]
do for [k=1:NI] { INP[k] = line_of(cmd, k) }
tcmd = sprintf("awk -F, 'NR>1 && !s[$3]++ {print $3}' '%s'", kv)
NT = nlines(tcmd)
array KT[NT]
do for [j=1:NT] { KT[j] = line_of(tcmd, j) }
BUDGET = system(sprintf("awk -F, 'NR>1 && $10!=\"\" {print $10; exit}' '%s'", kv))
# "bytes err" of pattern i, type j on inputs k; the front of inputs k
pt(i, j, k) = sprintf("< awk -F, 'NR>1 && $2==\"%s\" && $3==\"%s\" && $1==\"%s\" {e=$6+0; print $5, (e > 1e-6 ? e : 1e-6)}' '%s'", \
    PAT[i], KT[j], INP[k], kv)
front(k) = sprintf("< awk -F, 'NR>1 && $1==\"%s\" && $9==1 {e=$6+0; print $5, (e > 1e-6 ? e : 1e-6)}' '%s' | sort -g", INP[k], kv)
set datafile nocolumnheaders
set datafile separator whitespace
KR = key_rows(NP + NT + NI + 1, 1100)
H = 600 + KR * KEYROW
do for [fmt in "png svg"] {
    if (fmt eq "png") { set terminal pngcairo size 1100, H font ",10" noenhanced } else { set terminal svg size 1100, H font ",10" noenhanced dynamic }
    set output sprintf("%s/kv.%s", outdir, fmt)
    set title "KV bytes per token against output error (colour: pattern, marker: kv_dtype; line: Pareto front per inputs)"
    set logscale xy 10
    set format x "%g"
    set format y "%g"
    set grid xtics ytics lc "#dddddd"
    set key below left Left reverse maxrows KR width -2
    set xlabel "bytes the decode cache stores per context token (all K/V heads, scales included)"
    set ylabel "output error ||o - o_dense|| / ||o_dense|| against dense f32 (exact at 1e-6)"
    if (BUDGET ne "") { set arrow 1 from first BUDGET+0, graph 0 to first BUDGET+0, graph 1 nohead lc rgb "#cc0000" dt 2 lw 1.5 } else { unset arrow 1 }
    plot for [i=1:NP] for [j=1:NT] for [k=1:NI] pt(i, j, k) using 1:2 with points lc rgb colour(i) pt ((j - 1) % 10 + 5) ps 1.6 \
            title (j == 1 && k == 1 ? PAT[i] : ""), \
         for [k=1:NI] front(k) using 1:2 with lines lc rgb "#444444" dt k lw 1.5 title sprintf("front, %s", INP[k]), \
         for [j=1:NT] NaN with points lc rgb "#444444" pt ((j - 1) % 10 + 5) title KT[j], \
         (BUDGET ne "" ? NaN : NaN) with lines lc rgb "#cc0000" dt 2 title (BUDGET ne "" ? "kv_budget / seq_len" : "")
}
