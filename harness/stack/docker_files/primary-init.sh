#!/bin/sh
# Let the replica and the exporters connect over the compose network without a password (loopback-only ports).
set -e
echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"
echo "host all all all trust" >> "$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 -U postgres -c "create database betting"
