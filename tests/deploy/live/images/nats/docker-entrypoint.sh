#!/bin/sh
set -e
# as the official image: `docker run nats -c x.conf` runs `nats-server -c x.conf`
if [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
