#!/usr/bin/env bash
# kill -9 in the middle of a stream of commits loses no acknowledged
# revision, and the server restarts cleanly on the same data.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
for p in a b c; do api POST /api/v1/projects -d "{\"name\":\"$p\"}" >/dev/null; done

# Three writers commit as fast as they can; each records what was acknowledged.
writer() {
	local p=$1 base=0 i=0 f=$T/w-$p out
	while :; do
		i=$((i + 1))
		head -c $((RANDOM * 40 + 1)) /dev/urandom >"$f"
		out=$(curl -s -m 20 -H "Authorization: Bearer $TOKEN" --data-binary @"$f" \
			"$BASE/api/v1/projects/$p/revisions?base=$base&message=w$i") || break
		case "$out" in
		*'"revision":'*)
			base=$((base + 1))
			echo "$p $base $(sha256sum <"$f" | cut -d' ' -f1) $out" >>"$T/acked"
			;;
		*) break ;;
		esac
	done
}
writers=()
for p in a b c; do
	writer "$p" &
	writers+=("$!")
done
sleep 3
kill -KILL "$SERVER_PID"
wait "${writers[@]}" 2>/dev/null
acked=$(wc -l <"$T/acked")
[ "$acked" -gt 10 ] && ok "writers got $acked revisions acknowledged before the kill" ||
	not_ok "writers got revisions acknowledged before the kill" "only $acked"

start_atriumd "$T/data" || { not_ok "the server restarts after kill -9"; finish; }
ok "the server restarts after kill -9"
TOKEN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
lost=0 bad=0
while read -r p n sha _; do
	meta=$(api GET "/api/v1/projects/$p/revisions/$n")
	case "$meta" in *"\"sha256\":\"$sha\""*) ;; *) lost=$((lost + 1)); echo "# lost $p $n: $meta" ;; esac
	got=$(api GET "/api/v1/projects/$p/revisions/$n/content" | sha256sum | cut -d' ' -f1)
	[ "$got" == "$sha" ] || { bad=$((bad + 1)); echo "# bad content $p $n"; }
done <"$T/acked"
expect_eq "every acknowledged revision is there after kill -9" "$lost" 0
expect_eq "every acknowledged revision has its exact content" "$bad" 0
expect_eq "unfinished uploads are cleaned up at start" "$(ls "$T/data/blobs/tmp" | wc -l)" 0
for p in a b c; do
	head=$(json_get "$(api GET "/api/v1/projects/$p")" 'j["head"]')
	last=$(awk -v p="$p" '$1 == p { n = $2 } END { print n + 0 }' "$T/acked")
	# The head may be one past the last acknowledgement (committed, but the
	# answer was cut by the kill); never behind it.
	[ "$head" -ge "$last" ] && [ "$head" -le $((last + 1)) ] && ok "project $p: head $head matches the acknowledgements ($last)" ||
		not_ok "project $p: head $head matches the acknowledgements ($last)"
done
out=$(api POST "/api/v1/projects/a/revisions?base=$(json_get "$(api GET /api/v1/projects/a)" 'j["head"]')&message=after" --data-binary 'after the crash')
expect_match "commits continue after the restart" "$out" '"revision":'
stop_atriumd
finish
