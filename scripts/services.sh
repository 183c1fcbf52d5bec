#!/usr/bin/env bash
# Starts (or stops) a project-local PostgreSQL and Redis on loopback, with their data under .local/.
#   scripts/services.sh start   start both (no-op when running); prints the environment to use
#   scripts/services.sh stop    stop both
#   scripts/services.sh env     print DATABASE_URL, REDIS_URL and the test variables
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.local"
pg_port="${LOCAL_POSTGRES_PORT:-54329}"
redis_port="${LOCAL_REDIS_PORT:-63799}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
pg_data="$state/postgres"
redis_dir="$state/redis"

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
      -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c timezone=UTC" \
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
  fi
}

print_env() {
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/posthog"
  echo "export REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export POSTGRES_BIN_DIR=$pg_bin"
}

case "${1:-start}" in
  start) start_postgres; start_redis; print_env ;;
  stop)
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
