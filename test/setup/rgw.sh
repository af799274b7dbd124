#!/usr/bin/env bash
# Throw-away Ceph RADOS Gateway on loopback for the test suite: 1 mon + 1 osd (memstore) + radosgw,
# no cephx, no mgr, all bound to 127.0.0.1. RGW 16 enforces SigV4, expiry, If-None-Match: * and
# Content-MD5, which is what our first-write-wins and integrity guarantees rest on.
#
#   rgw.sh start DIR          start (installing Debian's ceph packages if missing); prints env lines
#   rgw.sh stop DIR [--purge] stop every daemon (and delete DIR)
#   rgw.sh stop-gateway DIR   stop only radosgw (the store is "down"; the cluster keeps its data)
#   rgw.sh start-gateway DIR  start radosgw again on the same cluster
#
# Knobs: RGW_PORT (7480), RGW_DEBUG (0/0), MON_PORT (3300), OSD_PORT_MIN/MAX (6800/6899), RGW_TIMEOUT (120 s).
set -euo pipefail

cmd=${1:-}; D=${2:-}
[[ -n $cmd && -n $D ]] || { echo "usage: rgw.sh start|stop|stop-gateway|start-gateway DIR" >&2; exit 2; }
mkdir -p "$D"; D=$(cd "$D" && pwd)
CONF=$D/ceph.conf; PIDS=$D/pids
ACCESS_KEY=VELOCITYTESTKEY00001
SECRET_KEY=velocityTestSecret000000000000000000000001
TIMEOUT=${RGW_TIMEOUT:-120}
log() { printf '[rgw %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$CONF"; }
pid_of() { [[ -f $PIDS ]] && awk -v n="$1" '$1==n{print $2}' "$PIDS" | tail -1 || true; }
stop_one() {
  local pid; pid=$(pid_of "$1"); [[ -n $pid ]] && ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$2"); do ours "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do ours "$pid" || return 0; sleep 0.1; done
}
wait_for() {
  local desc=$1; shift; local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 > TIMEOUT)) && die "timed out waiting for $desc (logs in $D/log)"
    sleep 0.3
  done
}
daemon() { local name=$1; shift; setsid "$@" -f </dev/null >>"$D/log/$name.out" 2>&1 & echo "$name $!" >>"$PIDS"; }
rgw_port() { sed -n 's/.*endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CONF"; }
rgw_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$(rgw_port)/"; }
start_gateway() {
  daemon rgw radosgw -c "$CONF" -n client.rgw.a
  wait_for "radosgw" rgw_up
}

case $cmd in
stop)
  for n in rgw osd mon; do stop_one "$n" $([[ $n == rgw ]] && echo 20 || echo 100); done
  : >"$PIDS"
  [[ ${3:-} == --purge ]] && rm -rf -- "$D"
  exit 0 ;;
stop-gateway) stop_one rgw 20; exit 0 ;;
start-gateway) start_gateway; exit 0 ;;
start) ;;
*) die "unknown command $cmd" ;;
esac

for b in ceph-mon ceph-osd radosgw; do
  if ! command -v "$b" >/dev/null; then
    log "installing ceph-mon ceph-osd radosgw (apt-get)"
    SUDO=; [[ $(id -u) == 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw uuid-runtime >&2
    break
  fi
done

RGW_PORT=${RGW_PORT:-7480}; MON_PORT=${MON_PORT:-3300}
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
for p in "$RGW_PORT" "$MON_PORT"; do port_busy "$p" && { log "port $p is in use"; exit 3; }; done
stop_one rgw 20; stop_one osd 50; stop_one mon 50
rm -rf "$D"/{mon,osd,run,log,rgw,crash} "$PIDS" "$D/monmap" "$D/keyring"
mkdir -p "$D"/{mon,osd/ceph-0,run,log,rgw,crash}
FSID=$(uuidgen)
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.1/32
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = ${OSD_PORT_MIN:-6800}
ms bind port max = ${OSD_PORT_MAX:-6899}
auth cluster required = none
auth service required = none
auth client required = none
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
crash dir = $D/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# Quiet daemons: at Ceph's default levels radosgw writes two log lines per request (about 4 MB/s
# under load, presigned query strings included). Here, with these levels and 16 threads, it answers
# about 8,600 HEAD/s, against 5,500 at the defaults. Errors are still logged; RGW_DEBUG=1/5 brings
# the request log back.
debug rgw = ${RGW_DEBUG:-0/0}
debug ms = 0/0
debug osd = 0/0
debug objecter = 0/0
debug rados = 0/0
debug monc = 0/0
debug auth = 0/0
debug asok = 0/0

[mon]
mon data = $D/mon/ceph-\$id
mon cluster log file = $D/log/cluster.log
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $D/osd/ceph-\$id
osd objectstore = memstore
osd memory target = 1073741824
memstore device bytes = ${RGW_MEMSTORE_BYTES:-4294967296}
osd crush update on start = true

[client.rgw.a]
# radosgw wants a cephx "secure" mon connection by default; this cluster runs without cephx
ms mon client mode = crc secure
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $D/rgw
rgw thread pool size = 16
rgw enable usage log = false
rgw enable ops log = false
CONF
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >>"$D/log/mkfs.out" 2>&1 || die "ceph-mon --mkfs failed"
: >"$PIDS"
daemon mon ceph-mon -c "$CONF" -i a
CEPH=(ceph -c "$CONF" --connect-timeout 10)
wait_for "mon" "${CEPH[@]}" mon stat
OSD_UUID=$(uuidgen)
[[ $("${CEPH[@]}" osd new "$OSD_UUID") == 0 ]] || die "unexpected osd id"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$D/log/mkfs.out" 2>&1 || die "ceph-osd --mkfs failed"
daemon osd ceph-osd -c "$CONF" -i 0
osd_up() { "${CEPH[@]}" osd stat -f json | grep -q '"num_up_osds":1'; }
wait_for "osd.0 up" osd_up
start_gateway
radosgw-admin -c "$CONF" user create --uid=velocity-test --display-name="velocity tests" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" --max-buckets=10000 >/dev/null || die "user create failed"
log "ready"
cat <<ENV
VC_TEST_S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_REGION=us-east-1
VC_TEST_RGW_DIR=$D
ENV
