#!/usr/bin/env bash
# Start local Redis and PostgreSQL when they are down, with the same commands the
# development machines use. Does nothing when both already answer.
set -u
if ! (redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG); then
  if command -v redis-server >/dev/null; then
    echo "ensure-services: starting redis-server on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 50); do redis-cli ping 2>/dev/null | grep -q PONG && break; sleep 0.2; done
  else
    echo "ensure-services: Redis is not reachable on 127.0.0.1:6379 and redis-server is not installed" >&2
  fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
  else
    echo "ensure-services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
  fi
fi
# The course-page browser test drives Debian's Chromium (playwright-core cannot download
# browsers offline). Install it when missing; without it that test fails and says so.
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = "0" ]; then
    echo "ensure-services: installing chromium for the browser test"
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null) ||
      echo "ensure-services: could not install chromium; the course-page browser test will fail" >&2
  else
    echo "ensure-services: /usr/bin/chromium is missing; run: apt-get install -y chromium" >&2
  fi
fi
exit 0
