#!/usr/bin/env bash
# atrium commit / checkout against a real atriumd: byte-exact round trips,
# old revisions, the default base, two clients on the same base (one wins,
# the other gets the conflict sentence), a file of a few hundred MB with the
# client's peak memory measured, an interrupted checkout leaving no half file.
# Everything goes over TLS (the default), the server trusted through its
# client bundle.
. "$(dirname "$0")/lib.sh"

expect_exit() {
	local name=$1 code=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$code" ]; then ok "$name"; else not_ok "$name" "exit $rc, wanted $code: $*" "$OUT"; fi
}

# same NAME FILE1 FILE2: ok when the two files are byte for byte equal.
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1" "$2 and $3 differ"; fi
}

# leftovers DIR: temporary checkout files left in DIR.
leftovers() {
	find "$1" -maxdepth 1 -name '.*.atrium-*' | wc -l
}

# trust_bundle HOME: the server's client bundle into HOME/certs (the reference's layout).
trust_bundle() {
	mkdir -p "$1/certs" && cp "$T/data/tls/client/cert.jks" "$T/data/tls/client/cert.pass" "$1/certs/"
}

start_atriumd "$T/data" || { not_ok "atriumd starts"; finish; }
HP=127.0.0.1:$TLS_PORT
trust_bundle "$ATRIUM_HOME"
"$ATRIUM" login -u admin --password-stdin "$HP" <<<"$ATRIUM_ADMIN_PASSWORD" >/dev/null ||
	not_ok "admin logs in"
"$ATRIUM" project create model >/dev/null || not_ok "create model"
W=$T/work
mkdir -p "$W"
cd "$W" || exit 1

head -c 100000 /dev/urandom >v1
head -c 54321 /dev/urandom >v2
msg1=$'fix "ports" & more; 100% done (a=b?c#d) \xc3\xa9t\xc3\xa9\nsecond line'

expect_exit "checkout of a project without revisions fails" 1 "$ATRIUM" checkout model
expect_match "saying it has none" "$OUT" "no revisions"
expect_exit "commit a first revision" 0 "$ATRIUM" commit model v1 -m "$msg1"
expect_match "it says which revision it made" "$OUT" "^Committed v1 as model revision 1 "
expect_exit "log" 0 "$ATRIUM" project log model
expect_match "shows revision 1 by admin, its size and the message's first line" "$OUT" \
	$'\n +1 +[0-9-]+ [0-9:]+ +admin +97.7 KiB +fix "ports" & more; 100% done \\(a=b\\?c#d\\) \xc3\xa9t\xc3\xa9 \\.\\.\\.$'
expect_exit "log --json" 0 "$ATRIUM" project log model --json
expect_eq "the message arrives intact" "$(json_get "$OUT" 'j["revisions"][0]["message"]')" "$msg1"
expect_eq "with the file's SHA-256" "$(json_get "$OUT" 'j["revisions"][0]["sha256"]')" \
	"$(sha256sum v1 | cut -d' ' -f1)"

expect_exit "checkout to ./NAME" 0 "$ATRIUM" checkout model
same "it is the committed file" v1 model
expect_match "it says where it went" "$OUT" "^Checked out model revision 1 to model "

expect_exit "commit a second revision on the default base" 0 "$ATRIUM" commit model v2 -m second
expect_match "revision 2" "$OUT" "revision 2 "
expect_exit "log lists newest first" 0 "$ATRIUM" project log model
expect_match "2 before 1" "$OUT" $'\n +2 [^\n]*second\n +1 '

chmod 640 model
expect_exit "checkout the head over the old file" 0 "$ATRIUM" checkout model
same "the file is revision 2 now" v2 model
expect_eq "and kept its mode" "$(stat -c %a model)" 640
expect_exit "checkout an old revision" 0 "$ATRIUM" checkout model -r 1 -o old
same "it is revision 1" v1 old
mkdir -p sub
expect_exit "checkout into a directory" 0 "$ATRIUM" checkout model -o sub
same "it lands as DIR/NAME" v2 sub/model
if "$ATRIUM" checkout model -r 1 -o - >stdout.bin 2>stderr.txt; then ok "checkout to stdout"; else not_ok "checkout to stdout"; fi
same "stdout holds the bytes" v1 stdout.bin
expect_match "and the note goes to stderr" "$(cat stderr.txt)" "to standard output"
expect_exit "checkout of a missing revision fails" 1 "$ATRIUM" checkout model -r 9 -o old
expect_match "with the server's sentence" "$OUT" "^atrium: "
same "and leaves the old file alone" v1 old
expect_exit "checkout of a missing project fails" 1 "$ATRIUM" checkout nothing
expect_exit "commit of a directory fails" 1 "$ATRIUM" commit model sub -m x
expect_eq "no temporary files are left" "$(leftovers "$W")" 0

# Two clients on the same base: the first wins, the second is told who did what.
for who in ann ben; do
	"$ATRIUM" user add "$who" --password-stdin <<<"$who-password-1" >/dev/null 2>&1 || not_ok "add $who"
	mkdir -p "$T/$who"
	trust_bundle "$T/$who.home"
	ATRIUM_HOME=$T/$who.home "$ATRIUM" login -u "$who" --password-stdin "$HP" <<<"$who-password-1" \
		>/dev/null 2>&1 || not_ok "$who logs in"
	(cd "$T/$who" && ATRIUM_HOME=$T/$who.home "$ATRIUM" checkout model >/dev/null 2>&1) ||
		not_ok "$who checks out"
done
echo "ann's change" >>"$T/ann/model"
echo "ben's change" >>"$T/ben/model"
cd "$T/ann" || exit 1
expect_exit "ann commits on base 2" 0 env ATRIUM_HOME="$T/ann.home" "$ATRIUM" commit model model -m "ann's fix"
expect_match "making revision 3" "$OUT" "revision 3 "
cd "$T/ben" || exit 1
expect_exit "ben's commit on base 2 conflicts" 1 env ATRIUM_HOME="$T/ben.home" "$ATRIUM" commit model model -m "ben's fix"
expect_match "the sentence says who committed what" "$OUT" "^atrium: ann committed revision 3 .*ann's fix"
expect_match "and how to go on" "$OUT" $'\n  atrium checkout model -r 3 -o model.r3\n'
expect_match "with the base to use" "$OUT" $'\n  atrium commit model model -m MESSAGE --base 3'
expect_exit "ben checks out ann's revision as the hint says" 0 \
	env ATRIUM_HOME="$T/ben.home" "$ATRIUM" checkout model -r 3 -o model.r3
cat model.r3 >merged
echo "ben's change" >>merged
expect_exit "then commits the merge (the base is now 3)" 0 \
	env ATRIUM_HOME="$T/ben.home" "$ATRIUM" commit model merged -m "ben's fix, merged"
expect_match "making revision 4" "$OUT" "revision 4 "
expect_exit "an explicit stale --base conflicts" 1 "$ATRIUM" commit model "$W/v1" -m stale --base 1
expect_match "naming the newest revision" "$OUT" "revision 4"
expect_exit "--base with the head works" 0 "$ATRIUM" commit model "$W/v1" -m fresh --base 4
cd "$W" || exit 1

# A few hundred MB: streamed both ways, the client's memory stays small.
BIG_MB=${CLI_BIG_MB:-300}
head -c "${BIG_MB}M" /dev/urandom >big
"$ATRIUM" project create big >/dev/null || not_ok "create big"

# peak_rss_kb CMD...: runs CMD; prints the peak RSS in KiB (empty when unknown).
peak_rss_kb() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v -o "$T/time.txt" "$@" >"$T/out.txt" 2>&1 || return 1
		sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.txt"
	else
		"$@" >"$T/out.txt" 2>&1 || return 1
	fi
}

# The whole-file stream here (--whole): under ASan, memory freed stays in
# its quarantine, so the hundreds of requests of a commit by chunks look
# like growth there; the release build's figure below is the chunked one
# (this commit stored a whole file, so that one sends every chunk).
t0=$(date +%s.%N)
if rss=$(peak_rss_kb "$ATRIUM" commit big big -m "big one" --whole); then ok "commit $BIG_MB MB"; else
	not_ok "commit $BIG_MB MB" "$(cat "$T/out.txt")"; fi
t1=$(date +%s.%N)
echo "# commit of $BIG_MB MB: peak RSS ${rss:-?} KiB (ASan build), $(echo "$t1 - $t0" | bc 2>/dev/null || echo ?) s"
[ -n "$rss" ] && expect_eq "commit's peak RSS stays under 64 MiB (ASan)" "$([ "$rss" -lt 65536 ] && echo yes)" yes
t0=$(date +%s.%N)
if rss=$(peak_rss_kb "$ATRIUM" checkout big -o big.out); then ok "checkout $BIG_MB MB"; else
	not_ok "checkout $BIG_MB MB" "$(cat "$T/out.txt")"; fi
t1=$(date +%s.%N)
echo "# checkout of $BIG_MB MB: peak RSS ${rss:-?} KiB (ASan build), $(echo "$t1 - $t0" | bc 2>/dev/null || echo ?) s"
[ -n "$rss" ] && expect_eq "checkout's peak RSS stays under 64 MiB (ASan)" "$([ "$rss" -lt 65536 ] && echo yes)" yes
same "the big file comes back byte for byte" big big.out
rm -f big.out

# The release build's figures, when it is built.
if [ -x "${ATRIUM_RELEASE:-}" ] && [ -x /usr/bin/time ]; then
	rss=$(peak_rss_kb "$ATRIUM_RELEASE" commit big big -m "big two") || not_ok "release commit" "$(cat "$T/out.txt")"
	echo "# commit of $BIG_MB MB by chunks: peak RSS ${rss:-?} KiB (release build): $(tail -n1 "$T/out.txt")"
	expect_eq "release commit's peak RSS stays under 32 MiB" "$([ "${rss:-999999}" -lt 32768 ] && echo yes)" yes
	rss=$(peak_rss_kb "$ATRIUM_RELEASE" checkout big -o big.out) || not_ok "release checkout" "$(cat "$T/out.txt")"
	echo "# checkout of $BIG_MB MB: peak RSS ${rss:-?} KiB (release build)"
	expect_eq "release checkout's peak RSS stays under 32 MiB" "$([ "${rss:-999999}" -lt 32768 ] && echo yes)" yes
	same "the release build's checkout is byte for byte" big big.out
	rm -f big.out
fi

# The progress bar: on a terminal only, for transfers over 1 MiB.
if command -v script >/dev/null 2>&1; then
	script -qec "'$ATRIUM' checkout big -o big.tty" /dev/null >tty.txt 2>&1
	expect_match "a terminal gets a progress bar" "$(tr '\r' '\n' <tty.txt)" "checkout big 100% \[=+\] "
	rm -f big.tty
	"$ATRIUM" checkout big -o big.notty 2>err.txt >/dev/null
	expect_eq "a pipe gets none" "$(grep -c '%' err.txt)" 0
	rm -f big.notty
else
	ok "# SKIP no script(1) for a terminal"
fi

# An interrupted checkout leaves the old file as it was and no temporary file.
echo "old content" >keep
"$ATRIUM" checkout big -o keep >/dev/null 2>"$T/int.txt" &
cli=$!
caught=
for _ in $(seq 1000); do
	if [ "$(leftovers "$W")" -gt 0 ]; then
		kill -STOP "$SERVER_PID"
		caught=1
		break
	fi
	sleep 0.01
done
if [ -n "$caught" ]; then
	sleep 0.2
	kill -INT "$cli"
	wait "$cli"
	rc=$?
	kill -CONT "$SERVER_PID"
	expect_eq "Ctrl-C stops a checkout with exit 1" "$rc" 1
	expect_match "saying it was interrupted" "$(cat "$T/int.txt")" "interrupted"
	expect_eq "the old file is untouched" "$(cat keep)" "old content"
	expect_eq "no temporary file is left" "$(leftovers "$W")" 0
else
	wait "$cli"
	ok "# SKIP the checkout ended before it could be interrupted"
fi

finish
