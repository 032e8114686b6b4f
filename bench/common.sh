# Helpers shared by the bench scripts (sourced, not run).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wrk against URL with an optional Lua SCRIPT, CONNECTIONS and THREADS for SECONDS -> "rps p50_ms p99_ms"
wrk_measure() {
  wrk -t"$4" -c"$3" -d"$5s" --latency ${2:+-s "$2"} "$1" 2>/dev/null | awk '
    /Requests\/sec/ {rps=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    END {printf "%s %.2f %.2f\n", rps, p50, p99}'
}
