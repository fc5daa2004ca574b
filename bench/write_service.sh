# Sourced by bench/writes_ab and bench/writes_profile: the service as both measure it.
# Needs PORT and USERS set, and bench/ as the working directory's child.

export SAVELOOPS_SECURITY__MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export SAVELOOPS_SERVER__HOST=127.0.0.1
export SAVELOOPS_SERVER__PORT=$PORT
export SAVELOOPS_LOG__LEVEL=warn
export SAVELOOPS_RATE_LIMIT__REQUESTS_PER_SECOND=10000000
export SAVELOOPS_RATE_LIMIT__BURST=10000000

# start_seeded_service BIN DB_URL DB_SPEC OFFERS LOG: an organization with OFFERS offers and
# USERS end users (bench/seed.py), then `serve --no-workers` until /ready answers. Sets
# SERVICE_PID and exports BENCH_KEY, BENCH_USERS and BENCH_OFFER_IDS for bench/lua.
start_seeded_service() {
    local bin=$1 url=$2 spec=$3 offers=$4 log=$5 org org_id
    org=$(SAVELOOPS_DATABASE__URL=$url "$bin" org create --name Bench 2>/dev/null)
    org_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$org")
    BENCH_KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])' <<<"$org")
    BENCH_OFFER_IDS=$(python3 bench/seed.py offers --db "$spec" --org "$org_id" --count "$offers")
    python3 bench/seed.py users --db "$spec" --org "$org_id" --count "$USERS"
    SAVELOOPS_DATABASE__URL=$url "$bin" serve --no-workers >>"$log" 2>&1 &
    SERVICE_PID=$!
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ready" 2>/dev/null && break
        sleep 0.1
    done
    export BENCH_KEY BENCH_OFFER_IDS BENCH_USERS=$USERS
}

# wrk_load ENDPOINT SECONDS [CONNECTIONS THREADS]: bench/lua/ENDPOINT.lua against the service;
# prints its one line of JSON.
wrk_load() {
    wrk -t"${4:-2}" -c"${3:-32}" -d"$2s" --timeout 5s -s "bench/lua/$1.lua" \
        "http://127.0.0.1:$PORT" | sed -n 's/^BENCH_JSON //p'
}
