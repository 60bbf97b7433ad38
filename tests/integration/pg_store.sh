#!/usr/bin/env bash
# The whole store test-suite (tests/unit/test_store.c) against PostgreSQL 15
# over TLS with verify-full, with and without the node's content cache,
# configured the way an administrator would:
# ATRIUM_DATABASE_SSL=on and ATRIUM_DATABASE_SSL_ROOT_CERT (the environment
# overrides of database_ssl and database_ssl_root_cert).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

UNIT=${ATRIUM_TOP}/build/asan/tests/test_store
[ -x "$UNIT" ] || { echo "not ok - $UNIT is not built (make asan)"; exit 1; }
pg_certs || { echo "not ok - making test certificates failed"; exit 1; }
pg_start main on || { echo "not ok - PostgreSQL did not start"; exit 1; }
pg_sql "$PG_PORT_main" postgres "CREATE DATABASE atrium_unit" >/dev/null

export ATRIUM_TEST_PG_URL=$(pg_url "$PG_PORT_main" atrium_unit)
export ATRIUM_DATABASE_SSL=on
export ATRIUM_DATABASE_SSL_ROOT_CERT=$PG_CERTS/ca.crt
export ATRIUM_TEST_STORE_BACKENDS=pg,pg-cached
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=detect_leaks=1
"$UNIT" 2>&1 | sed 's/^ok [0-9]* - /ok - /; s/^not ok [0-9]* - /not ok - /'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || _failed=1
finish
