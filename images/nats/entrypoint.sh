#!/bin/sh
# Options alone ("--js -m 8222") are options for nats-server; a command
# ("nats-server ...", "sh") runs unchanged.
set -e
case ${1:-} in
  -*) set -- nats-server "$@" ;;
esac
exec "$@"
