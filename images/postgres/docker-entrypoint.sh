#!/bin/bash
# Entrypoint of hephaestus-testbed/postgres.
#
# As root: give an empty data directory to postgres (uid 999), then run this
# script again as postgres. As postgres: create the cluster when PGDATA holds
# none yet, then exec the server in the foreground.
#
# Read on the first start only (an existing cluster ignores them, so a new
# password needs ALTER USER): POSTGRES_USER (default postgres),
# POSTGRES_PASSWORD, POSTGRES_DB (default: the user), POSTGRES_INITDB_ARGS,
# POSTGRES_HOST_AUTH_METHOD (default scram-sha-256); each also as *_FILE.
# Files in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once, after
# the database exists.
set -Eeuo pipefail
shopt -s nullglob

say() {
  echo "entrypoint: $*" >&2
}

# Set VAR from VAR or from the file named by VAR_FILE (docker secrets).
from_env_or_file() {
  local var=$1 default=${2:-} file_var="$1_FILE"
  local value=$default
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    say "set $var or $file_var, not both"
    exit 1
  fi
  if [ -n "${!var:-}" ]; then
    value=${!var}
  elif [ -n "${!file_var:-}" ]; then
    value=$(<"${!file_var}")
  fi
  export "$var=$value"
  unset "$file_var"
}

# Run psql against the temporary, socket-only server.
sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" "$@"
}

create_cluster() {
  local -a initdb_args extra
  from_env_or_file POSTGRES_USER postgres
  from_env_or_file POSTGRES_PASSWORD
  from_env_or_file POSTGRES_DB "$POSTGRES_USER"
  from_env_or_file POSTGRES_INITDB_ARGS
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    say "PGDATA holds no database yet and POSTGRES_PASSWORD is empty; set it"
    say "(or POSTGRES_HOST_AUTH_METHOD=trust, which lets anyone in)"
    exit 1
  fi

  # Inside the container the socket is trusted; every TCP client, 127.0.0.1
  # included, authenticates with $auth.
  initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth")
  read -r -a extra <<<"$POSTGRES_INITDB_ARGS"
  if [ -n "$POSTGRES_PASSWORD" ]; then
    initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${extra[@]}"
  else
    initdb "${initdb_args[@]}" "${extra[@]}"
  fi

  printf '\n# hephaestus-testbed: clients on every network\nhost all all all %s\n' \
    "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\n# hephaestus-testbed: listen on every interface\nlisten_addresses = '*'\n" \
    >>"$PGDATA/postgresql.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  local file
  for file in /docker-entrypoint-initdb.d/*; do
    case $file in
      *.sh)
        say "running $file"
        # shellcheck source=/dev/null
        if [ -x "$file" ]; then "$file"; else . "$file"; fi
        ;;
      *.sql) say "running $file"; sql --dbname "$POSTGRES_DB" -f "$file" ;;
      *.sql.gz) say "running $file"; gunzip -c "$file" | sql --dbname "$POSTGRES_DB" ;;
      *) say "ignoring $file" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  say "database cluster ready"
}

# "docker run IMAGE -c shared_buffers=256MB" means options for postgres.
if [ "${1:0:1}" = - ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  # A fresh bind mount arrives owned by root; one that holds data keeps its owner.
  if [ -z "$(ls -A "$PGDATA")" ]; then
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
  fi
  install -d -o postgres -g postgres -m 3777 /var/run/postgresql
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  create_cluster
fi
exec "$@"
