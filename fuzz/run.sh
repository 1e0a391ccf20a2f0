#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each and prints what they did:
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (make fuzz FUZZ_SECONDS=…)
#
# Targets: markdown jsonl csv docx pdf (the loaders) and http_bodies (the request bodies
# against the real router and engine; needs `make setup`'s model). Seeds come from the
# repository's corpora and fixtures; the growing corpus and any crash files stay under
# fuzz/work/ (not committed). A crash is a crash-/timeout-/oom-/leak-* file in
# fuzz/work/artifacts/TARGET/ (slow-unit-* files are only slow): replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz TARGET FILE
# then make it a regression test (docs/reliability.md says where). Exits 1 if any target
# crashed. Not part of `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(markdown jsonl csv docx pdf http_bodies)

ZHIKU_HOME=${ZHIKU_HOME:-$HOME/.cache/zhiku}
export ZHIKU_HOME
cargo_fuzz=$ZHIKU_HOME/tools/bin/cargo-fuzz
[ -x "$cargo_fuzz" ] || cargo install cargo-fuzz --locked --version 0.13.2 --root "$ZHIKU_HOME/tools"
# The machine's one toolchain is stable; cargo fuzz's sanitizer and coverage flags are -Z
# flags, which a stable compiler takes when told it is bootstrapping.
export RUSTC_BOOTSTRAP=1
# Instrumented builds differ from the normal ones in every flag: a folder of their own.
export CARGO_TARGET_DIR=${ZHIKU_FUZZ_TARGET:-$root/fuzz/target}
# The loaders read the fuzzed bytes from a file: on a RAM disk when there is one.
[ -w /dev/shm ] && export TMPDIR=/dev/shm

work=$root/fuzz/work
seed() { # seed TARGET FILE...: copies the files into the target's seed folder
    local dir=$work/seeds/$1
    shift
    mkdir -p "$dir"
    for f in "$@"; do cp "$f" "$dir/$(echo "$f" | tr / _)"; done
}
first_lines() { # a JSON Lines file's first records, as a small seed
    head -n 3 "$1" > "$work/seeds/jsonl/$(echo "$1" | tr / _)"
}
rm -rf "$work/seeds"
mkdir -p "$work/seeds/jsonl"
seed markdown $(find corpora tests/fixtures -name '*.md' -size -8k | sort | head -n 40)
for f in $(find corpora tests/fixtures -name '*.jsonl' | sort); do first_lines "$f"; done
seed csv $(find corpora tests/fixtures -name '*.csv' | sort)
seed docx tests/fixtures/documents/*.docx
seed pdf tests/fixtures/documents/*.pdf
# Request bodies: byte 0 picks the route and byte 1 the caller (fuzz_targets/http_bodies.rs).
mkdir -p "$work/seeds/http_bodies"
body() { printf "$1" > "$work/seeds/http_bodies/$2"; }
body '\x00\x02{"query":"勾股定理的证明","top_k":3,"domains":["education"]}' search
body '\x00\x01{"query":"metformin","filters":{"department":"endocrinology"},"mode":"hybrid"}' search-filters
body '\x01\x02{"question":"What is the Temple of Heaven?","stream":false}' ask
body '\x01\x02{"question":"天坛是什么时候建的？","stream":true,"conversation_id":"c1"}' ask-stream
body '\x02\x02{"model":"zhiku","messages":[{"role":"user","content":"勾股定理"}],"stream":true}' openai
body '\x03\x01{"query":"metformin renal dose","patient":{"id":"110101199003074578"}}' clinical-search
body '\x04\x01{"question":"二甲双胍肾功能不全怎么调整？"}' clinical-ask
body '\x05\x02{"hook":"order-select","hookInstance":"x","context":{"draftOrders":{}}}' cds
body '\x06\x00{"code":"abc"}' mp-login
body '\x08\x00{"spots":["a","b"],"start":"09:00"}' mp-route
body '\x0a\x00{"username":"teacher","password":"secret"}' web-login
body '\x0c\x02{"turn":1,"rating":"up","comment":"好"}' feedback
body '\x0d\x03--zz\r\nContent-Disposition: form-data; name="file"; filename="a.md"\r\n\r\n# 标题\n\n内容\r\n--zz--\r\n' ingest
body '\x0e\x02lat=39.88&lon=116.41&radius_m=2000' near

status=0
summary=()
for t in "${targets[@]}"; do
    features=()
    [ "$t" = http_bodies ] && features=(--features http)
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    log=$work/$t.log
    echo "== fuzz $t for ${seconds}s (log: $log)"
    set +e
    "$cargo_fuzz" run --fuzz-dir fuzz "${features[@]}" "$t" "$work/corpus/$t" "$work/seeds/$t" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=8192 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$t/" > "$log" 2>&1
    code=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    # slow-unit-* files are not failures (the HTTP target's first input opens the engine)
    crashes=$(find "$work/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' \
        -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    corpus=$(find "$work/corpus/$t" -type f | wc -l)
    if [ "$code" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        status=1
        tail -n 30 "$log"
    fi
    summary+=("$(printf '%-12s %6ss %10s runs %6s in corpus %3s crash files (exit %s)' \
        "$t" "$seconds" "${runs:-?}" "$corpus" "$crashes" "$code")")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
