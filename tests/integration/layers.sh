#!/usr/bin/env bash
# The server's calls go one way (docs/architecture.md "Data flow"): no cycle
# among its modules, no handler including the machinery below it; and no
# cycle among the library's or the client's modules.
. "$(dirname "$0")/lib.sh"
cd "$ATRIUM_TOP" || exit 1

out=$(scripts/check-layers build/obj/src/server 2>&1); rc=$?
expect_eq "the release objects of atriumd have no call cycle" "$rc" 0
[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/# /'
expect_match "and every module was read" "$out" 'modules, no cycle; handlers include no server internals'
for part in lib cli; do
	out=$(scripts/check-layers "build/obj/src/$part" 2>&1); rc=$?
	expect_eq "src/$part has no call cycle either" "$rc" 0
	[ "$rc" -eq 0 ] || echo "$out" | sed 's/^/# /'
done

# The check itself finds a cycle when there is one: two objects that call
# each other.
mkdir -p "$T/objs"
printf 'void b_call(void);\nvoid a_call(void);\nvoid a_call(void) { b_call(); }\n' >"$T/a.c"
printf 'void a_call(void);\nvoid b_call(void);\nvoid b_call(void) { a_call(); }\n' >"$T/b.c"
cc -c "$T/a.c" -o "$T/objs/ping.o" && cc -c "$T/b.c" -o "$T/objs/pong.o"
out=$(scripts/check-layers "$T/objs" 2>&1); rc=$?
expect_eq "a cycle fails the check" "$rc" 1
expect_match "naming both sides" "$out" 'cycle: ping <-> pong'
finish
