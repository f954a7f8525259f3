#!/usr/bin/env bash
# A Spark standalone cluster on this machine from the installed pyspark: one master and two workers, each
# worker with its own cores and memory. `make cluster-up` / `make cluster-down` call this; both are idempotent.
#
#   scripts/cluster.sh up | down | status
#
# Settings (environment): CLUSTER_DIR (pid files and logs; default build/cluster), CLUSTER_HOST (127.0.0.1),
# CLUSTER_PORT (7077), CLUSTER_UI_PORT (8080; the workers take the next two), WORKER_CORES (1),
# WORKER_MEMORY (2g), PYTHON (the venv's python). The master's URL is printed: spark://HOST:PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SPARK_HOME=$("$PYTHON" -c "import os, pyspark; print(os.path.dirname(pyspark.__file__))")
export SPARK_HOME
CLUSTER_DIR=$(mkdir -p "${CLUSTER_DIR:-build/cluster}" && cd "${CLUSTER_DIR:-build/cluster}" && pwd)
export SPARK_PID_DIR="$CLUSTER_DIR/pids" SPARK_LOG_DIR="$CLUSTER_DIR/logs" SPARK_IDENT_STRING=c360
HOST=${CLUSTER_HOST:-127.0.0.1}
PORT=${CLUSTER_PORT:-7077}
UI=${CLUSTER_UI_PORT:-8080}
CORES=${WORKER_CORES:-1}
MEMORY=${WORKER_MEMORY:-2g}
MASTER_URL="spark://$HOST:$PORT"
export SPARK_MASTER_HOST=$HOST SPARK_LOCAL_IP=$HOST
# executors run the venv's python (the same pinned libraries as the driver)
export PYSPARK_PYTHON
PYSPARK_PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
DAEMON="$SPARK_HOME/sbin/spark-daemon.sh"
MASTER_CLASS=org.apache.spark.deploy.master.Master
WORKER_CLASS=org.apache.spark.deploy.worker.Worker

running() { "$DAEMON" status "$1" "$2" >/dev/null 2>&1; }

alive_workers() {
  "$PYTHON" - "$HOST" "$UI" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/json/", timeout=2) as r:
        print(json.load(r).get("aliveworkers", 0))
except Exception:
    print(-1)
EOF
}

up() {
  running "$MASTER_CLASS" 1 || "$DAEMON" start "$MASTER_CLASS" 1 --host "$HOST" --port "$PORT" --webui-port "$UI"
  for i in 1 2; do
    running "$WORKER_CLASS" "$i" || "$DAEMON" start "$WORKER_CLASS" "$i" --host "$HOST" \
      --webui-port $((UI + i)) --cores "$CORES" --memory "$MEMORY" --work-dir "$CLUSTER_DIR/work-$i" "$MASTER_URL"
  done
  for _ in $(seq 1 120); do
    if [ "$(alive_workers)" = "2" ]; then
      echo "$MASTER_URL"
      return 0
    fi
    sleep 0.5
  done
  echo "cluster: the master at $MASTER_URL has not seen its two workers after 60 s; logs: $SPARK_LOG_DIR" >&2
  return 1
}

down() {
  for i in 2 1; do "$DAEMON" stop "$WORKER_CLASS" "$i" >/dev/null 2>&1 || true; done
  "$DAEMON" stop "$MASTER_CLASS" 1 >/dev/null 2>&1 || true
  echo "cluster: stopped"
}

status() {
  running "$MASTER_CLASS" 1 && echo "master: running at $MASTER_URL (UI http://$HOST:$UI)" || echo "master: stopped"
  for i in 1 2; do
    running "$WORKER_CLASS" "$i" && echo "worker $i: running" || echo "worker $i: stopped"
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|down|status" >&2; exit 2 ;;
esac
