#!/usr/bin/env bash
# cluster-test.sh - sabench on a real SLURM: starts munged, slurmctld and
# slurmd for a one-node cluster under a temporary folder (plain processes:
# no systemd, no cgroups), submits a small experiment with `sabench slurm
# --submit`, waits for the merge job and checks that the merged results
# hold exactly the cells of a local run, all verified; then makes one shard
# fail and checks that SLURM cancels the merge and `sabench merge` names
# the missing shard. Stops every daemon it started, by pid.
# Exit: 0 passed, 1 failed, 77 skipped (cannot start a cluster here).
# Usage: cluster-test.sh SABENCH_BIN
set -u
bin=${1:?usage: cluster-test.sh SABENCH_BIN}
say() { printf 'slurm-test: %s\n' "$*"; }
skip() { say "skipped: $*"; exit 77; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		say "installing slurm-wlm and munge"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } >/dev/null 2>&1 \
			|| skip "cannot install slurm-wlm and munge"
	else
		skip "slurm-wlm and munge are not installed (run as root to install them)"
	fi
fi
[ "$(id -u)" = 0 ] || skip "the test cluster runs its daemons as root"

T=$(mktemp -d /tmp/sabench-slurm-XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munged.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	sleep 1
	for f in "$T"/slurmd.pid "$T"/slurmctld.pid "$T"/munged.pid; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	[ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT

# munge: its own key, socket, pid, log and seed under T
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$T/munge.key"
munged --key-file="$T/munge.key" --socket="$T/munge.sock" --pid-file="$T/munged.pid" \
	--log-file="$T/munged.log" --seed-file="$T/munged.seed" --origin=127.0.0.1 --force \
	|| skip "munged does not start (see $T/munged.log)"

host=$(hostname -s)
node=$(slurmd -C | head -1)
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<CONF
ClusterName=sabenchtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
ReturnToService=2
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$T/slurm.conf" || skip "slurmctld does not start (see $T/slurmctld.log)"
slurmd -f "$T/slurm.conf" || skip "slurmd does not start (see $T/slurmd.log)"
for i in $(seq 1 50); do
	sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
	sleep 0.2
done
sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)' || skip "the node did not come up: $(sinfo 2>&1 | tail -1)"
say "cluster up in $T (port $port)"

state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
wait_job() {   # job id, seconds: prints the final state
	local s
	for i in $(seq 1 $(( $2 * 5 ))); do
		s=$(state "$1")
		case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "$s"; return;; esac
		sleep 0.2
	done
	echo "${s:-GONE}"
}

cd "$T"
cat > exp.yaml <<YAML
name: slurmtest
shape: {heads: 2, head_dim: 16, threads: 1}
sweep: {seq_len: [64, 128, 256]}
patterns: [dense, {window: {size: 16}}, {sink_window: {sinks: 2, size: 14}}]
kernels: [naive, tiled]
run: {warmup: 0, repeats: 3, min_time_ms: 0}
counters: [sabench::pairs]
YAML
fail=0
t0=$(date +%s.%N)
out=$("$bin" slurm exp.yaml --shards 4 --submit -o run 2>&1) || { say "sabench slurm failed: $out"; exit 1; }
ids=$(echo "$out" | sed -n 's/^submitted: array job \([0-9]*\) (4 shards), merge job \([0-9]*\).*/\1 \2/p')
set -- $ids
array=$1 merge=$2
say "submitted: array job $array, merge job $merge"
st=$(wait_job "$merge" 120)
t1=$(date +%s.%N)
say "merge job $merge: $st after $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
if [ "$st" != COMPLETED ]; then
	say "FAIL: the merge job did not complete"; cat run/slurm/*.out 2>/dev/null | tail -20; fail=1
fi
"$bin" run exp.yaml -o local >/dev/null 2>&1 || { say "FAIL: the local run failed"; fail=1; }
merged=$(tail -n +2 run/results.csv 2>/dev/null | cut -d, -f2 | sort)
local_=$(tail -n +2 local/results.csv 2>/dev/null | cut -d, -f2 | sort)
if [ -z "$merged" ] || [ "$merged" != "$local_" ]; then
	say "FAIL: merged cells differ from the local run's"; fail=1
else
	say "merged results: $(echo "$merged" | wc -l) cells, the same as the local run"
fi
col=$(head -1 run/results.csv | tr , '\n' | grep -n '^verified$' | cut -d: -f1)
unverified=$(tail -n +2 run/results.csv | cut -d, -f"$col" | grep -vc '^yes$')
[ "$unverified" = 0 ] || { say "FAIL: $unverified merged rows are not verified"; fail=1; }
[ -s run/report.md ] || { say "FAIL: no report.md after the merge job"; fail=1; }

# a failing shard: its folder cannot be created (a file is in the way)
mkdir -p bad/shards && echo blocked > bad/shards/2-of-4
out=$("$bin" slurm exp.yaml --shards 4 --submit -o bad 2>&1) || { say "sabench slurm failed: $out"; exit 1; }
set -- $(echo "$out" | sed -n 's/^submitted: array job \([0-9]*\) (4 shards), merge job \([0-9]*\).*/\1 \2/p')
array=$1 merge=$2
st=$(wait_job "$merge" 60)
reason=$(scontrol show job "$merge" 2>/dev/null | sed -n 's/.*Reason=\([A-Za-z_]*\).*/\1/p' | head -1)
say "with shard 2 failing: array job $array, merge job $merge $st ($reason)"
[ "$st" = CANCELLED ] || { say "FAIL: the merge job was not cancelled"; fail=1; }
msg=$("$bin" merge bad/shards -o bad/merged 2>&1)
echo "$msg" | grep -q "shard 2 of 4 is missing" \
	|| { say "FAIL: merge did not name the missing shard: $msg"; fail=1; }
say "merge by hand: $msg"

[ $fail = 0 ] && say "passed" || say "failed"
exit $fail
