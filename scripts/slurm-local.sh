#!/usr/bin/env bash
# slurm-local.sh: a real single-node Slurm cluster (Debian's slurm-wlm and munge) on this
# machine, for testing "masklab slurm" end to end. Not for production use.
#
#   scripts/slurm-local.sh install   install slurm-wlm and munge with apt (idempotent)
#   scripts/slurm-local.sh start     install if needed, write slurm.conf, start munged,
#                                    slurmctld and slurmd, wait until the node is idle
#   scripts/slurm-local.sh status    print sinfo/squeue (exit 1 when the cluster is down)
#   scripts/slurm-local.sh stop      stop the daemons this script started
#   scripts/slurm-local.sh env       print the export line that points clients at it
#
# Everything lives under $MASKLAB_SLURM_DIR (default /tmp/masklab-slurm): slurm.conf,
# state, spool, logs and pid files. Clients (sbatch, squeue, masklab slurm --submit) find
# the cluster through SLURM_CONF: run  eval "$(scripts/slurm-local.sh env)"  first.
# Daemons run as root without systemd or cgroups (proctrack/linuxproc, task/none), which
# is what sandboxes and CI containers allow; see docs/slurm.md.
set -euo pipefail

DIR=${MASKLAB_SLURM_DIR:-/tmp/masklab-slurm}
CONF=$DIR/etc/slurm.conf
CPUS=${MASKLAB_SLURM_CPUS:-$(nproc)}
NODE=$(hostname -s)
PORT_CTLD=${MASKLAB_SLURM_CTLD_PORT:-6817}
PORT_D=${MASKLAB_SLURM_D_PORT:-6818}
export SLURM_CONF=$CONF

log() { echo "slurm-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root in this single-node setup); got uid $(id -u)"
}

install_pkgs() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  need_root
  command -v apt-get >/dev/null || die "slurm-wlm/munge are not installed and apt-get is missing; install Slurm and MUNGE by hand"
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends slurm-wlm munge >/dev/null
  command -v slurmctld >/dev/null || die "apt-get install slurm-wlm did not provide slurmctld"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# real_memory_mb: 80% of the memory available now, so slurmd never finds less than
# configured (a node with less memory than its RealMemory is drained as invalid).
real_memory_mb() {
  local kb
  kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  [ -n "$kb" ] || kb=$(awk '/^MemFree:/ {print $2}' /proc/meminfo)
  echo $((kb * 8 / 10 / 1024))
}

write_conf() {
  mkdir -p "$DIR/etc" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
  local mem
  mem=$(real_memory_mb)
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-local.sh: a single-node test cluster. Do not use in production.
ClusterName=masklab
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=$PORT_CTLD
SlurmdPort=$PORT_D
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups in containers/sandboxes: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
# Short timeouts: a test cluster should react in seconds.
KillWait=5
MinJobAge=60
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=20
SchedulerParameters=sched_interval=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0 # a munged is already answering (ours or the system's)
  fi
  [ -f /etc/munge/munge.key ] || {
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key; else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  }
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 755 /run/munge
  # munged runs as the munge user (it refuses keys owned by another user).
  if command -v runuser >/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
  else
    su -s /bin/sh munge -c '/usr/sbin/munged --force'
  fi
  touch "$DIR/run/munged.ours"
  local i
  for i in $(seq 1 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "munged did not start (see /var/log/munge/munged.log)"
}

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | sed -n 1p; }

start() {
  install_pkgs
  need_root
  if pid_alive "$DIR/run/slurmctld.pid" && pid_alive "$DIR/run/slurmd.pid"; then
    log "already running (SLURM_CONF=$CONF)"
    return 0
  fi
  write_conf
  start_munge
  pid_alive "$DIR/run/slurmctld.pid" || slurmctld -f "$CONF" || die "slurmctld failed to start; see $DIR/log/slurmctld.log"
  pid_alive "$DIR/run/slurmd.pid" || slurmd -f "$CONF" || die "slurmd failed to start; see $DIR/log/slurmd.log"
  local i st=""
  for i in $(seq 1 120); do
    st=$(node_state || true)
    case "$st" in
      idle*|mixed*|allocated*) log "node $NODE is $st (SLURM_CONF=$CONF)"; return 0 ;;
      down*|drain*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  log "node did not become idle (last state: ${st:-none}); last log lines:"
  tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  exit 1
}

stop_pid() { # name pidfile
  local p i
  [ -f "$2" ] || return 0
  p=$(cat "$2")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then log "$1 ($p) did not stop; killing"; kill -9 "$p" 2>/dev/null || true; fi
  fi
  rm -f "$2"
}

stop() {
  [ -d "$DIR" ] || return 0
  # Cancel what is left so no job step outlives the daemons, then stop them.
  if pid_alive "$DIR/run/slurmctld.pid"; then
    scancel --quiet --partition=debug >/dev/null 2>&1 || true
    sleep 1
  fi
  stop_pid slurmd "$DIR/run/slurmd.pid"
  stop_pid slurmctld "$DIR/run/slurmctld.pid"
  if [ -f "$DIR/run/munged.ours" ]; then
    stop_pid munged /run/munge/munged.pid
    rm -f "$DIR/run/munged.ours"
  fi
  log "stopped"
}

status() {
  if ! pid_alive "$DIR/run/slurmctld.pid"; then echo "slurm-local: down"; return 1; fi
  echo "SLURM_CONF=$CONF"
  sinfo
  squeue
}

case "${1:-}" in
  install) install_pkgs ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
