#!/usr/bin/env bash
# Installing Atrium as an administrator would: make install into a DESTDIR,
# the man pages, the Debian package (lintian, dpkg -i, the service's command
# line as the unit runs it, an upgrade, remove, purge) and the unit file.
# Needs root (dpkg, a system user); it installs the package on this machine
# and purges it again, also when it fails half-way.
. "$(dirname "$0")/lib.sh"
cd "$ATRIUM_TOP" || exit 1

skip() { echo "ok - $1 # skip $2"; }
UNIT=/lib/systemd/system/atriumd.service
VERSION=$(sed -n 's/^#define ATRIUM_VERSION "\(.*\)"/\1/p' src/version.h)

# ---- man pages, generated from the binaries
if ! make -s man >"$T/make-man.out" 2>&1; then
	not_ok "make man builds the pages" "$(tail -n 20 "$T/make-man.out")"
else
	ok "make man builds the pages"
	for page in build/man/atriumd.8 build/man/atrium.1 build/man/atrium.conf.5; do
		out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		expect_eq "man -l $(basename "$page") renders without warnings" "$out" ""
		out=$(groff -ww -z -man "$page" 2>&1)
		expect_eq "groff -ww finds nothing in $(basename "$page")" "$out" ""
	done
	# atrium.conf(5) and docs/configuration.md: the same settings, defaults.
	# (A '|' inside a cell is written '\|'.)
	want=$(sed -e 's/\\|/\x01/g' docs/configuration.md |
		sed -n 's/^| `\([^`]*\)` | `\{0,1\}\([^|`]*\)`\{0,1\} | .*/\1 = \2/p' | sed 's/\x01/|/g')
	got=$(sed -n 's/^\\fB\(.*\)\\fR = \(.*\)$/\1 = \2/p' build/man/atrium.conf.5 |
		sed -e 's/\\fI(empty)\\fR/(empty)/' -e 's/\\-/-/g' -e 's/\\e/\\/g')
	expect_eq "atrium.conf(5) lists the settings and defaults of docs/configuration.md" "$got" "$want"
	# atrium(1): a section for every command and subcommand.
	missing=""
	for cmd in $(build/atrium --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p'); do
		grep -q "^\.SS atrium $cmd\$" build/man/atrium.1 || missing="$missing $cmd"
		for sub in $(build/atrium "$cmd" --help 2>&1 | sed -n '/^Commands:/,$s/^ \{1,2\}\(-\{0,1\}[a-z][a-z]*\) .*/\1/p'); do
			grep -qF ".SS atrium $cmd ${sub//-/\\-}" build/man/atrium.1 || missing="$missing $cmd:$sub"
		done
	done
	expect_eq "atrium(1) has a section for every command, keytool's included" "$missing" ""
	missing=""
	for opt in $(build/atriumd --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "${opt//-/\\-}" build/man/atriumd.8 || missing="$missing $opt"
	done
	expect_eq "atriumd(8) describes every option of atriumd --help" "$missing" ""
fi

# ---- make install / uninstall into a DESTDIR
R=$T/destdir
if make -s install DESTDIR="$R" >"$T/install.out" 2>&1; then
	ok "make install DESTDIR=... works"
	files=$(cd "$R" && find . -type f -o -type l | sort | tr '\n' ' ')
	expect_eq "it installs the binaries, pages, unit, completion and atrium.conf" "$files" \
		"./usr/local/bin/atrium ./usr/local/etc/atrium/atrium.conf ./usr/local/lib/systemd/system/atriumd.service ./usr/local/sbin/atriumd ./usr/local/share/bash-completion/completions/atrium ./usr/local/share/man/man1/atrium.1 ./usr/local/share/man/man5/atrium.conf.5 ./usr/local/share/man/man8/atriumd.8 "
	check "the installed unit runs the installed atriumd" \
		grep -qx 'ExecStart=/usr/local/sbin/atriumd --config /usr/local/etc/atrium/atrium.conf --data /var/lib/atrium' "$R/usr/local/lib/systemd/system/atriumd.service"
	check "and lets it write the settings' directory" \
		grep -qx 'ReadWritePaths=/var/lib/atrium /usr/local/etc/atrium' "$R/usr/local/lib/systemd/system/atriumd.service"
	make -s uninstall DESTDIR="$R" >>"$T/install.out" 2>&1
	expect_eq "make uninstall leaves no file behind" "$(find "$R" -type f -o -type l)" ""
	make -s install DESTDIR="$R" PREFIX=/usr >>"$T/install.out" 2>&1
	check "PREFIX=/usr puts the settings in /etc" test -f "$R/etc/atrium/atrium.conf"
	echo "name = ours" >>"$R/etc/atrium/atrium.conf"
	make -s uninstall DESTDIR="$R" PREFIX=/usr >>"$T/install.out" 2>&1
	check "uninstall keeps an atrium.conf an administrator changed" grep -q '^name = ours' "$R/etc/atrium/atrium.conf"
else
	not_ok "make install DESTDIR=... works" "$(tail -n 20 "$T/install.out")"
fi

# ---- the Debian package
expect_eq "debian/changelog's version is src/version.h's" "$(dpkg-parsechangelog -S Version)" "$VERSION"
if [ "$(id -u)" -ne 0 ]; then
	skip "the Debian package" "needs root (dpkg -i, a system user)"
	finish
fi
for tool in dpkg-buildpackage dh lintian setpriv; do
	command -v "$tool" >/dev/null || { skip "the Debian package" "$tool is not installed (scripts/install-deps)"; finish; }
done
if dpkg-query -W -f='${Status}' atrium 2>/dev/null | grep -q 'installed\|config-files' ||
	getent passwd atrium >/dev/null || [ -e /var/lib/atrium ]; then
	skip "the Debian package" "atrium is already installed here (or its user or data exist): the test would replace it"
	finish
fi

DEB=build/deb/atrium_${VERSION}_$(dpkg --print-architecture).deb
if make -s deb >"$T/deb.out" 2>&1 && [ -f "$DEB" ]; then
	ok "make deb leaves $DEB"
else
	not_ok "make deb leaves $DEB" "$(tail -n 30 "$T/deb.out")"
	finish
fi
out=$(lintian "$DEB" 2>&1 | grep -E '^[EW]: ')
expect_eq "lintian finds no error or warning" "$out" ""

# dpkg waits for nobody: retry while another installation holds its lock.
dpkg_do() {
	local i out
	for i in $(seq 120); do
		out=$(dpkg "$@" 2>&1) && { printf '%s\n' "$out"; return 0; }
		grep -q 'lock' <<<"$out" || { printf '%s\n' "$out"; return 1; }
		sleep 1
	done
	printf '%s\n' "$out"
	return 1
}
installed=0
svc_pid=""
_pkg_cleanup() {
	[ -n "$svc_pid" ] && kill -KILL "$svc_pid" 2>/dev/null
	[ "$installed" -eq 1 ] && dpkg_do --purge atrium >/dev/null 2>&1
	return 0
}
trap 'rc=$?; _pkg_cleanup; _cleanup $rc' EXIT

installed=1
if out=$(DEBIAN_FRONTEND=noninteractive dpkg_do -i "$DEB"); then ok "dpkg -i installs it"; else
	not_ok "dpkg -i installs it" "$out"
	finish
fi
check "atriumd is /usr/sbin/atriumd" test -x /usr/sbin/atriumd
check "atrium is /usr/bin/atrium" test -x /usr/bin/atrium
check "the unit is atriumd.service" test -f "$UNIT"
uid=$(id -u atrium 2>/dev/null)
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then ok "the system user atrium exists (uid $uid)"; else
	not_ok "the system user atrium exists" "uid: ${uid:-none}"; fi
expect_eq "/var/lib/atrium is 0700 atrium" "$(stat -c '%a %U' /var/lib/atrium 2>&1)" "700 atrium"
expect_eq "/etc/atrium/atrium.conf is 0640 atrium:atrium" "$(stat -c '%a %U:%G' /etc/atrium/atrium.conf 2>&1)" "640 atrium:atrium"
expect_eq "in /etc/atrium, 0750 atrium:atrium (the console saves there)" "$(stat -c '%a %U:%G' /etc/atrium 2>&1)" "750 atrium:atrium"
check "and a conffile" grep -qx /etc/atrium/atrium.conf /var/lib/dpkg/info/atrium.conffiles
check "man atriumd finds the page" man -w atriumd
if [ -d /run/systemd/system ]; then
	skip "no systemd here: the package does not start atriumd" "systemd runs on this machine"
elif pgrep -u atrium atriumd >/dev/null; then
	not_ok "without systemd the package starts nothing" "$(pgrep -a -u atrium)"
else
	ok "without systemd the package starts nothing"
fi

# The unit file: verify, and its exposure (lower is better; 10 = none).
out=$(systemd-analyze verify "$UNIT" 2>&1)
expect_eq "systemd-analyze verify finds nothing in the installed unit" "$out" ""
exposure=$(systemd-analyze security --offline=yes "$UNIT" 2>/dev/null |
	sed -n 's/.*Overall exposure level for atriumd.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure ${exposure:-?}"
if [ -n "$exposure" ] && awk "BEGIN { exit !($exposure < 3.0) }"; then
	ok "the unit's exposure is below 3.0 ($exposure)"
else
	not_ok "the unit's exposure is below 3.0" "exposure: ${exposure:-not measured}"
fi

# ---- the service's command line, as the unit runs it: its user, no new
# privileges, only CAP_NET_BIND_SERVICE, umask 0077, a clean environment.
# Ports come from the environment (ATRIUM_<KEY>), so nothing fixed is used;
# the TLS port is below 1024 when one is free, to show the capability works.
pre=$(sed -n 's/^ExecStartPre=//p' "$UNIT")
start=$(sed -n 's/^ExecStart=//p' "$UNIT")
expect_eq "the unit runs atriumd on /var/lib/atrium with /etc/atrium/atrium.conf" "$start" \
	"/usr/sbin/atriumd --config /etc/atrium/atrium.conf --data /var/lib/atrium"
expect_eq "and checks that file first" "$pre" \
	"/usr/sbin/atriumd --config /etc/atrium/atrium.conf --data /var/lib/atrium --check-config"
check "and may write /etc/atrium under the sandbox" grep -qx 'ReadWritePaths=/var/lib/atrium /etc/atrium' "$UNIT"
low=$(python3 -c '
import socket
for p in range(1000, 900, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()')
PORT=$(free_port)
TLS_PORT=${low:-$(free_port)}
ADMIN_PORT=$(free_port)
# One exec chain (bash, env, setpriv, atriumd): $! is atriumd's PID.
as_unit=(bash -c 'umask 0077; cd / && exec "$@"' as_unit
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
	ATRIUM_PORT="$PORT" ATRIUM_TLS_PORT="$TLS_PORT" ATRIUM_ADMIN_PORT="$ADMIN_PORT"
	setpriv --reuid=atrium --regid=atrium --init-groups --no-new-privs
	--inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
	--bounding-set=-all,+net_bind_service)
# shellcheck disable=SC2086 # the unit's command lines are word-split as systemd does
check "ExecStartPre (--check-config) passes as user atrium" "${as_unit[@]}" $pre
LOG=$T/service.log
# shellcheck disable=SC2086
"${as_unit[@]}" $start >"$LOG" 2>&1 &
svc_pid=$!
_pids+=("$svc_pid")
if wait_port "$TLS_PORT" 30; then ok "the service starts (TLS on port $TLS_PORT)"; else
	not_ok "the service starts" "$(tail -n 20 "$LOG")"
	finish
fi
wait_port "$PORT" 10
expect_eq "it runs as atrium" "$(ps -o user=,comm= -p "$svc_pid" | tr -s ' ')" "atrium atriumd"
pw=$(cat /var/lib/atrium/initial-admin-password 2>/dev/null)
[ -n "$pw" ] && secret "$pw"
expect_match "the first start logs where the admin password is" "$(cat "$LOG")" '/var/lib/atrium/initial-admin-password'
expect_match "and the local CA's fingerprint" "$(cat "$LOG")" 'local CA /var/lib/atrium/tls/ca.crt \(SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\)'
check "/etc/atrium/atrium.conf holds the documented defaults" grep -q '^#tls_port = 10002$' /etc/atrium/atrium.conf
check "and is the file read: none is written in /var/lib/atrium" test ! -e /var/lib/atrium/atrium.conf
expect_match "the log names it" "$(cat "$LOG")" 'settings in /etc/atrium/atrium.conf'
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert /var/lib/atrium/tls/ca.crt "https://127.0.0.1:$TLS_PORT/healthz" 2>&1)
expect_eq "it serves TLS that verifies with the local CA" "$code" 200
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert /var/lib/atrium/tls/ca.crt "https://127.0.0.1:$ADMIN_PORT/" 2>&1)
expect_eq "and the console over HTTPS" "$code" 200

BASE=http://127.0.0.1:$PORT
TOKEN=$(login_token admin "$pw")

# SIGHUP (ExecReload): close the plain port through the settings file.
n=$(wc -l <"$LOG")
echo "plain = off" >>/etc/atrium/atrium.conf
kill -HUP "$svc_pid"
expect_match "SIGHUP reloads" "$(log_since "$LOG" "$n" 'reload done|reload failed|cannot')" 'reload done'
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
expect_eq "the reloaded settings apply (plain port closed)" "$code" 000
check "the TLS port still serves" curl -sSf -o /dev/null --cacert /var/lib/atrium/tls/ca.crt "https://127.0.0.1:$TLS_PORT/healthz"

# The console's Save, as user atrium: back into /etc/atrium/atrium.conf.
code=$(curl -sS -o "$T/save.out" -w '%{http_code}' --cacert /var/lib/atrium/tls/ca.crt \
	-H "Authorization: Bearer $TOKEN" -X PUT -d '{"enabled":true}' \
	"https://localhost:$ADMIN_PORT/admin/api/settings/plain" 2>&1)
expect_eq "the console's Save works for the service's user" "$code" 200
[ "$code" = 200 ] || sed 's/^/#   /' "$T/save.out"
check "it writes /etc/atrium/atrium.conf" grep -qx 'plain = on' /etc/atrium/atrium.conf
check "keeping its comments" grep -q '^#tls_port = 10002$' /etc/atrium/atrium.conf
expect_eq "its mode, owner and group" "$(stat -c '%a %U:%G' /etc/atrium/atrium.conf)" "640 atrium:atrium"
check "and the plain port serves again" wait_port "$PORT" 10

kill -TERM "$svc_pid"
for _ in $(seq 200); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$svc_pid" 2>/dev/null; then not_ok "SIGTERM stops it within 20 s"; else
	wait "$svc_pid"
	expect_eq "SIGTERM stops it, exit status 0" "$?" 0
fi
svc_pid=""
expect_match "and it says so" "$(tail -n 3 "$LOG")" 'atriumd stopped'

# ---- upgrade (the same version again), remove, purge
echo "# an administrator's change" >>/etc/atrium/atrium.conf
if out=$(DEBIAN_FRONTEND=noninteractive dpkg_do -i "$DEB"); then ok "installing over it (an upgrade) works"; else
	not_ok "installing over it (an upgrade) works" "$out"; fi
check "the upgrade keeps the data" test -s /var/lib/atrium/atrium.db
check "and the settings saved in /etc/atrium/atrium.conf" grep -qx 'plain = on' /etc/atrium/atrium.conf
check "and the change made there by hand" grep -qx "# an administrator's change" /etc/atrium/atrium.conf
expect_eq "and its mode" "$(stat -c '%a %U:%G' /etc/atrium/atrium.conf)" "640 atrium:atrium"
dpkg_do -r atrium >/dev/null
check "dpkg -r keeps the data" test -s /var/lib/atrium/atrium.db
check "and the user" getent passwd atrium
if out=$(dpkg_do --purge atrium); then ok "dpkg --purge works"; else not_ok "dpkg --purge works" "$out"; fi
installed=0
check_fails "purge removes the user atrium" getent passwd atrium
check_fails "and the group" getent group atrium
check_fails "and the data" test -e /var/lib/atrium
check_fails "and /etc/atrium" test -e /etc/atrium
check_fails "and the mode overrides" dpkg-statoverride --list /etc/atrium/atrium.conf
check_fails "of the directory too" dpkg-statoverride --list /etc/atrium
check_fails "and nothing of the package is left" dpkg-query -W atrium
finish
