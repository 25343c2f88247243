#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for testing the shard scripts (docs/cluster.md):
# munged, slurmctld and slurmd started in the background with a generated slurm.conf under DIR.
#   scripts/slurm/local-cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/local-cluster.sh stop DIR
# Needs root and Debian's slurm-wlm and munge (`apt-get install slurm-wlm munge`). Nothing is
# written outside DIR except munge's socket under /run/munge.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi
for tool in munged slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
mkdir -p "$dir"
dir=$(realpath "$dir")

if [ "$cmd" = stop ]; then
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
  exit 0
fi
[ "$cmd" = start ] || { echo "$0: unknown command $cmd (start|stop)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (slurmd runs jobs as their users)" >&2; exit 2; }

host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$dir/state" "$dir/spool" /run/munge
chown munge:munge /run/munge
cat >"$dir/slurm.conf" <<EOF
ClusterName=gs-local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
# munged runs as the munge user, so its pid file lives in a folder that user may write.
mkdir -p "$dir/munge"
chown munge:munge "$dir/munge"
runuser -u munge -- munged --pid-file="$dir/munge/munged.pid" 2>>"$dir/munged.log" || true
for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
slurmctld
slurmd
# Wait until the node takes jobs.
for _ in $(seq 100); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "$0: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
exit 1
