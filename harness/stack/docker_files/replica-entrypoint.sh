#!/bin/sh
# Clone the primary once, then stream from it through the `replication` Toxiproxy proxy.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h postgres-primary -p 5432 -U postgres; do sleep 0.5; done
  pg_basebackup -h postgres-primary -p 5432 -U postgres -D "$PGDATA" -X stream --checkpoint=fast
  echo "primary_conninfo = 'host=toxiproxy port=15434 user=postgres application_name=replica'" >> "$PGDATA/postgresql.auto.conf"
  touch "$PGDATA/standby.signal"
  chmod 0700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
