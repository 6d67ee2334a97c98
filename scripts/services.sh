# Sourced by test.sh: start PostgreSQL and Redis on this machine if they are installed and
# down, and point the suite at them (TEST_DATABASE_URL, TEST_REDIS_URL) unless already set.
ensure_services() {
  if [ -z "${TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_ctlcluster >/dev/null; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432; then
      # The suite makes (and drops) one schema per test in the database "test".
      if ! psql -h 127.0.0.1 -p 5432 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
        createdb -h 127.0.0.1 -p 5432 -U postgres test 2>/dev/null || true
      fi
      if psql -h 127.0.0.1 -p 5432 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
        export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test"
      fi
    fi
  fi
  if [ -z "${TEST_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
      mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
      for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
    fi
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
      export TEST_REDIS_URL="redis://127.0.0.1:6379/15"
    fi
  fi
  echo "TEST_DATABASE_URL=${TEST_DATABASE_URL:-<unset: SQLite only>} TEST_REDIS_URL=${TEST_REDIS_URL:-<unset>}"
}
