# bench/lib.sh: helpers for bench/run (sourced, not run). Needs: W (a mktemp -d
# work dir), OUT (results dir), RAW (OUT/raw), ATRIUMD, TMO (client time bound, s).
#
# Accounting: a server's CPU is utime+stime of its processes (all threads)
# from /proc/PID/stat; the client's is the user+sys `time` reports for it;
# "other" is what the whole machine (/proc/stat) was busy with besides both.

CLK=$(getconf CLK_TCK)
ADMIN_PASS=bench-admin-password-1
BG_PIDS=()            # background helpers this run started (stopped by cleanup)
declare -A A_PID A_PORT A_TLS A_TOK A_DIR   # atriumd instances by name
declare -A N_DIR N_PORT N_TLS N_RSA N_CHK   # nginx instances by name

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# free_ports N: N distinct free TCP ports on 127.0.0.1
free_ports() {
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# cpu_ticks PID...: utime+stime of these processes, all threads, in clock ticks
cpu_ticks() {
	local p f=()
	for p in "$@"; do [[ -r /proc/$p/stat ]] && f+=("/proc/$p/stat"); done
	[[ ${#f[@]} -gt 0 ]] || { echo 0; return; }
	awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }' "${f[@]}" 2>/dev/null
}
# busy_ticks: ticks the whole machine was not idle since boot
busy_ticks() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# status_kb FIELD PID...: sum of a /proc/PID/status field (VmRSS, VmHWM) in kB
status_kb() {
	local field=$1 p t=0 v
	shift
	for p in "$@"; do
		v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# measure ID SERVER RUN CMD...: runs CMD (time-bounded) with the server
# processes in SRV_PIDS; output in RAW/ID-SERVER-RUN.txt. Sets M_RC M_WALL
# M_SRV M_CLI M_BUSY M_OTHER M_LOAD M_RAW (seconds of CPU).
measure() {
	local id=$1 srv=$2 run=$3 s0 s1 b0 b1 t0 t1 ct
	shift 3
	M_RAW=$RAW/$id-$srv-$run.txt
	M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
	s0=$(cpu_ticks "${SRV_PIDS[@]}"); b0=$(busy_ticks); t0=$(date +%s.%N)
	{ TIMEFORMAT='%U %S'; time timeout "$TMO" "$@" >"$M_RAW" 2>&1; } 2>"$M_RAW.cputime"
	M_RC=$?
	t1=$(date +%s.%N); s1=$(cpu_ticks "${SRV_PIDS[@]}"); b1=$(busy_ticks)
	ct=$(tail -n 1 "$M_RAW.cputime")
	read -r M_WALL M_SRV M_CLI M_BUSY < <(awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" \
		-v b0="$b0" -v b1="$b1" -v ct="$ct" -v clk="$CLK" 'BEGIN {
		split(ct, c, " ");
		printf "%.3f %.3f %.3f %.3f\n", t1 - t0, (s1 - s0) / clk, c[1] + c[2], (b1 - b0) / clk }')
	M_OTHER=$(awk -v b="$M_BUSY" -v s="$M_SRV" -v c="$M_CLI" 'BEGIN { printf "%.3f", b - s - c }')
	[[ $M_RC -eq 0 ]] || log "WARNING: $id $srv run $run exited with $M_RC (see $M_RAW)"
}

# record ID SERVER RUN VALUE UNIT UNITS NOTE: one row of results.tsv from the
# last measure. UNITS = what the server CPU is divided by (requests,
# connections, MB); VALUE = the headline figure (req/s, conn/s, MB/s, KiB).
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
		"$M_WALL" "$M_SRV" "$M_CLI" "$M_BUSY" "$M_OTHER" "$M_LOAD" "${7:--}" >>"$OUT/results.tsv"
	log "$1 $2 run $3: $4 $5 (server $(awk -v s="$M_SRV" -v u="$6" 'BEGIN { if (u > 0) printf "%.1f", s * 1e6 / u; else printf "?" }') us per unit; other CPU ${M_OTHER} core-s)"
}
# command ID SERVER TEXT: the exact command of a measurement, for the report
command_of() {
	grep -q "^$1	$2	" "$OUT/commands.tsv" 2>/dev/null || printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$OUT/commands.tsv"
}
meta() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/meta.tsv"; }

# ---------------------------------------------------------------- atriumd
# atriumd_start NAME [ARGS...]: a fresh atriumd (release build) with its data
# in W/NAME, on free ports; waits until it answers, logs in as admin.
atriumd_start() {
	local name=$1 port tls adm i
	shift
	read -r port tls adm < <(free_ports 3)
	A_DIR[$name]=$W/$name
	ATRIUM_ADMIN_PASSWORD=$ADMIN_PASS "$ATRIUMD" --data "$W/$name" --port "$port" --tls-port "$tls" \
		--admin-port "$adm" --set log_level=warn "$@" >"$W/$name.log" 2>&1 &
	A_PID[$name]=$!
	A_PORT[$name]=$port
	A_TLS[$name]=$tls
	for i in $(seq 300); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
		kill -0 "${A_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	if ! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
		log "atriumd $name did not start:"; cat "$W/$name.log" >&2; return 1
	fi
	A_TOK[$name]=$(curl -s -X POST -d "{\"user\":\"admin\",\"password\":\"$ADMIN_PASS\"}" \
		"http://127.0.0.1:$port/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	[[ -n "${A_TOK[$name]}" ]] || { log "atriumd $name: login failed"; return 1; }
	log "atriumd $name: pid ${A_PID[$name]}, plain $port, tls $tls"
}
# atriumd_api NAME METHOD PATH [curl args...]: an authenticated call (plain port)
atriumd_api() {
	local name=$1 method=$2 path=$3
	shift 3
	curl -s -X "$method" -H "Authorization: Bearer ${A_TOK[$name]}" "$@" "http://127.0.0.1:${A_PORT[$name]}$path"
}
atriumd_stop() {
	local name=$1 p=${A_PID[$1]:-} i
	[[ -n "$p" ]] || return 0
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p"
	wait "$p" 2>/dev/null
	unset "A_PID[$name]"
}
# metric NAME LINE-PREFIX: a counter from atriumd's /metrics
metric() {
	curl -s "http://127.0.0.1:${A_PORT[$1]}/metrics" | awk -v k="$2" 'index($0, k) == 1 { print $2 }'
}

# ---------------------------------------------------------------- nginx
# nginx_start NAME ECDSA_CRT ECDSA_KEY RSA_CRT RSA_KEY: an nginx from Debian
# in W/nginx-NAME (its own config, pid file, logs; not the system service).
# Serves www/ (tiny.json, big.bin) plain, TLS with the ECDSA and the RSA
# certificate, PUT into /upload/ (DAV) on the plain port; and one more TLS
# listener, identical but with an access log, used only to check resumption.
nginx_start() {
	local name=$1 d=$W/nginx-$1 plain tls rsa chk i
	read -r plain tls rsa chk < <(free_ports 4)
	mkdir -p "$d/www" "$d/upload" "$d/tmp"
	cp "$2" "$d/ecdsa.crt"; cp "$3" "$d/ecdsa.key"; cp "$4" "$d/rsa.crt"; cp "$5" "$d/rsa.key"
	cp "$W/tiny.json" "$d/www/tiny.json"
	[[ -f "$W/big.bin" ]] && ln "$W/big.bin" "$d/www/big.bin"
	cat >"$d/nginx.conf" <<-EOF
	# generated by bench/run for one benchmark run
	user root;
	worker_processes 2;
	worker_rlimit_nofile 20000;
	pid $d/nginx.pid;
	error_log $d/error.log warn;
	events { worker_connections 16384; use epoll; }
	http {
	    types { application/json json; application/octet-stream bin; }
	    default_type application/octet-stream;
	    access_log off;
	    sendfile on; tcp_nopush on; tcp_nodelay on;
	    keepalive_timeout 600s; keepalive_requests 1000000; client_header_timeout 600s;
	    client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
	    fastcgi_temp_path $d/tmp/fastcgi; uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
	    ssl_protocols TLSv1.2 TLSv1.3;
	    ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
	    log_format reuse '\$ssl_session_reused \$ssl_protocol \$ssl_cipher \$status';
	    server {
	        listen 127.0.0.1:$plain;
	        root $d/www;
	        location /upload/ { root $d; dav_methods PUT; client_max_body_size 0; }
	    }
	    server { listen 127.0.0.1:$tls ssl; root $d/www;
	             ssl_certificate $d/ecdsa.crt; ssl_certificate_key $d/ecdsa.key; }
	    server { listen 127.0.0.1:$rsa ssl; root $d/www;
	             ssl_certificate $d/rsa.crt; ssl_certificate_key $d/rsa.key; }
	    server { listen 127.0.0.1:$chk ssl; root $d/www; access_log $d/reuse.log reuse;
	             ssl_certificate $d/ecdsa.crt; ssl_certificate_key $d/ecdsa.key; }
	}
	EOF
	nginx -q -t -p "$d" -e "$d/error.log" -c "$d/nginx.conf" || { log "nginx config rejected"; return 1; }
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" || return 1
	for i in $(seq 50); do [[ -s "$d/nginx.pid" ]] && break; sleep 0.1; done
	N_DIR[$name]=$d; N_PORT[$name]=$plain; N_TLS[$name]=$tls; N_RSA[$name]=$rsa; N_CHK[$name]=$chk
	for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$plain/tiny.json" && break; sleep 0.1; done
	log "nginx $name: master $(cat "$d/nginx.pid"), plain $plain, tls $tls, rsa $rsa"
}
nginx_pids() { # master + workers
	local m
	m=$(cat "${N_DIR[$1]}/nginx.pid" 2>/dev/null) || return 0
	echo "$m" $(ps -o pid= --ppid "$m")
}
nginx_stop() {
	local d=${N_DIR[$1]:-} m i
	[[ -n "$d" && -s "$d/nginx.pid" ]] || return 0
	m=$(cat "$d/nginx.pid")
	kill -QUIT "$m" 2>/dev/null
	for i in $(seq 100); do kill -0 "$m" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$m" 2>/dev/null && kill -TERM "$m"
	unset "N_DIR[$1]"
}
