#!/usr/bin/env bash
# A throw-away single-node SLURM cluster (Debian packages slurmctld slurmd slurm-client munge),
# without systemd and without the accounting daemon, for trying and testing profiles/slurm.
#
#   bash cluster/slurm.sh up      # install the packages if missing, start munged, slurmctld, slurmd
#   bash cluster/slurm.sh down    # stop exactly the daemons `up` started (by their process ids)
#                                 # and remove the slurm.conf `up` wrote
#   bash cluster/slurm.sh status  # exit 0 when the node is idle or busy
#
# Needs root (it writes /etc/slurm/slurm.conf). Everything else (munge key and socket, state,
# logs, pid files) lives under $SLURM_BASE (default /tmp/spark-video-slurm).
# Two settings matter:
#  - slurm.conf must be at the compiled-in default /etc/slurm/slurm.conf: the job step plugin
#    removes SLURM_CONF from the environment of the srun inside each job;
#  - no accounting, so sacct cannot answer: profiles/slurm asks squeue instead, and
#    MinJobAge=600 keeps finished jobs visible to squeue long enough.
set -euo pipefail
BASE=${SLURM_BASE:-/tmp/spark-video-slurm}
CONF_DIR=/etc/slurm
CTLD_PORT=${SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_SLURMD_PORT:-6818}
PARTITION=${SLURM_PARTITION:-main}

pids() { echo "$BASE/run/slurmd.bgpid" "$BASE/run/slurmctld.bgpid" "$BASE/munge/munged.pid"; }

alive() {
  local f
  for f in $(pids); do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}

install() {
  local need=()
  for c in slurmctld slurmd sbatch munged; do command -v "$c" >/dev/null 2>&1 || need+=("$c"); done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "== apt: slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # the packages' postinst cannot start services without systemd; harmless, we start them
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

up() {
  [ "$(id -u)" = 0 ] || { echo "cluster/slurm.sh: needs root (writes $CONF_DIR/slurm.conf)" >&2; exit 1; }
  if alive; then echo "SLURM already running (state in $BASE)"; sinfo; return 0; fi
  install
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  # slurmd refuses to register with more memory than it detects: stay well below
  mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) * 8 / 10 ))
  mkdir -p "$BASE"/{munge,state,spool,log,run} "$CONF_DIR"
  chmod 700 "$BASE/munge"
  local key="$BASE/munge/munge.key" sock="$BASE/munge/munge.socket"
  [ -f "$key" ] || { dd if=/dev/urandom of="$key" bs=1024 count=1 status=none; chmod 400 "$key"; }
  munged --force --key-file="$key" --socket="$sock" --pid-file="$BASE/munge/munged.pid" \
         --log-file="$BASE/log/munged.log" --seed-file="$BASE/munge/munged.seed"
  munge -S "$sock" -n | unmunge -S "$sock" >/dev/null

  cat > "$CONF_DIR/slurm.conf" <<CONF
# written by spark-video cluster/slurm.sh (single node, no accounting)
ClusterName=spark
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${sock}
StateSaveLocation=${BASE}/state
SlurmdSpoolDir=${BASE}/spool
SlurmctldPidFile=${BASE}/run/slurmctld.pid
SlurmdPidFile=${BASE}/run/slurmd.pid
SlurmctldLogFile=${BASE}/log/slurmctld.log
SlurmdLogFile=${BASE}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -D -i -c -f "$CONF_DIR/slurm.conf" >"$BASE/log/slurmctld.out" 2>&1 &
  echo $! > "$BASE/run/slurmctld.bgpid"
  slurmd -D -f "$CONF_DIR/slurm.conf" >"$BASE/log/slurmd.out" 2>&1 &
  echo $! > "$BASE/run/slurmd.bgpid"
  local state=""
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
    [ "$state" = idle ] && break
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    echo "cluster/slurm.sh: node is '$state', not idle; logs in $BASE/log:" >&2
    tail -n 20 "$BASE"/log/*.log "$BASE"/log/*.out >&2 || true
    down
    exit 1
  fi
  sinfo
}

down() {
  local f
  for f in $(pids); do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for _ in $(seq 1 40); do
    alive || break
    sleep 0.25
  done
  if alive; then
    for f in $(pids); do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  fi
  rm -f "$BASE"/run/*.bgpid "$BASE/munge/munged.pid"
  # A config left behind names a controller that is gone: every SLURM client then waits for
  # it, and so does every Snakemake start while the SLURM executor plugin is installed (it
  # runs `scontrol show config` when it loads: ~9 s a start). Remove the file `up` wrote.
  if head -1 "$CONF_DIR/slurm.conf" 2>/dev/null | grep -q "written by spark-video cluster/slurm.sh"; then
    rm -f "$CONF_DIR/slurm.conf"
  fi
  echo "SLURM stopped"
}

status() {
  alive || { echo "SLURM is not running"; return 1; }
  local state
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
  echo "node: ${state:-unknown}"
  case "$state" in idle|mixed|allocated) return 0 ;; *) return 1 ;; esac
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: bash cluster/slurm.sh up|down|status" >&2; exit 2 ;;
esac
