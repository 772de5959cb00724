# shellcheck shell=bash
# Sourced by .ci/run (and by developers: `sudo bash -c '. .ci/services.sh'` prints the exports):
# start PostgreSQL and Redis from Debian packages for the tests that need real ones, and
# export where they are. Idempotent: a running cluster, role, database or redis-server is
# reused. Needs root (CI runs as root); PostgreSQL itself runs as the postgres user.

loopgram_services() {
  local pg_user=loopgram pg_password=loopgram pg_db=loopgram_test pg_port version cluster
  if ! command -v pg_lsclusters >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server
  fi

  # The newest installed major version, whatever Debian release this is.
  version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
  cluster=main
  if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {f=1} END {exit !f}'; then
    pg_createcluster "$version" "$cluster"
  fi
  if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" {f=1} END {exit !f}'; then
    pg_ctlcluster "$version" "$cluster" start
  fi
  pg_port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')

  # A login role owning a database: the tests create and drop one schema each in it.
  runuser -u postgres -- psql -p "$pg_port" -v ON_ERROR_STOP=1 -qAt <<SQL
SELECT 'CREATE ROLE $pg_user LOGIN PASSWORD ''$pg_password'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$pg_user') \gexec
SELECT 'CREATE DATABASE $pg_db OWNER $pg_user'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$pg_db') \gexec
SQL

  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    # Loopback only, no persistence: the tests' live state is throwaway.
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
      --logfile /tmp/loopgram-ci-redis.log
    for _ in $(seq 50); do
      redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null

  export LOOPGRAM_TEST_POSTGRES="postgresql://$pg_user:$pg_password@127.0.0.1:$pg_port/$pg_db"
  export LOOPGRAM_TEST_REDIS="redis://127.0.0.1:6379/0"
  echo "LOOPGRAM_TEST_POSTGRES=$LOOPGRAM_TEST_POSTGRES"
  echo "LOOPGRAM_TEST_REDIS=$LOOPGRAM_TEST_REDIS"
}

loopgram_services
