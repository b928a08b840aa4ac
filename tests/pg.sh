# A private PostgreSQL server for the tests (Debian's postgresql 15): initdb and pg_ctl in a
# temporary folder, listening only on a unix socket in that folder, run by an unprivileged
# account (as root: the postgres system user). Source it, then:
#   pg_start DIR    starts the server; exports KIGEN_PG_HOST (the socket folder)
#   pg_newdb NAME   creates an empty database owned by the role kigen; prints its libpq URI
#   pg_stop         stops the server (immediate: nothing of it is kept) and removes DIR
#   pg_sql URI SQL  runs SQL, rows as "a|b" lines
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_DIR=
PG_RUNAS=()

pg_start() {
	PG_DIR=$1
	mkdir -p "$PG_DIR" || return 1
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$PG_DIR" || return 1
		PG_RUNAS=(runuser -u postgres --)
	fi
	"${PG_RUNAS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U kigen_admin --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	# fsync off: a test server's data dies with the run anyway; the tests do not test the disk
	# (make bench sets PG_FSYNC=on, to measure what a real server does).
	"${PG_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 120 \
		-o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR' -c fsync=${PG_FSYNC:-off} -c max_connections=80" \
		start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	export KIGEN_PG_HOST=$PG_DIR
	psql -X -q -h "$PG_DIR" -U kigen_admin -d postgres -c "CREATE ROLE kigen LOGIN" >/dev/null
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	[ -f "$PG_DIR/data/postmaster.pid" ] &&
		"${PG_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}

pg_newdb() {
	psql -X -q -h "$KIGEN_PG_HOST" -U kigen_admin -d postgres -c "CREATE DATABASE $1 OWNER kigen" >/dev/null &&
		echo "postgresql:///$1?host=$KIGEN_PG_HOST&user=kigen"
}

pg_sql() {
	psql -X -q -A -t -F'|' -v ON_ERROR_STOP=1 "$1" -c "$2"
}
