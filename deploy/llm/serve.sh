#!/usr/bin/env bash
# serve.sh DEST [PORT] — start the model server set up by setup.sh on 127.0.0.1:PORT
# (default 8081), wait until it answers, and print the Zhiku configuration that uses it.
# The server runs in the background; its log is DEST/server.log, its pid DEST/server.pid.
# Environment: THREADS (default 2), CTX (context tokens, default 4096).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DEST [PORT]" >&2
    exit 2
fi
DEST="$(cd "$1" && pwd)"
PORT="${2:-8081}"
MODEL="$DEST/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
[ -x "$DEST/bin/llama-server" ] && [ -s "$MODEL" ] \
    || { echo "no llama-server or model in $DEST: run deploy/llm/setup.sh $DEST first" >&2; exit 1; }
if [ -f "$DEST/server.pid" ] && kill -0 "$(cat "$DEST/server.pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$DEST/server.pid"))"
else
    "$DEST/bin/llama-server" -m "$MODEL" --alias qwen2.5-coder-0.5b-instruct \
        --host 127.0.0.1 --port "$PORT" -t "${THREADS:-2}" -c "${CTX:-4096}" \
        >"$DEST/server.log" 2>&1 &
    echo $! >"$DEST/server.pid"
fi
for _ in $(seq 1 120); do
    if python3 - "$PORT" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=2).read()
PY
        cat <<CFG
llama-server is up on 127.0.0.1:$PORT (pid $(cat "$DEST/server.pid"), log $DEST/server.log).
Use it with:
[llm]
base_url = "http://127.0.0.1:$PORT/v1"
model = "qwen2.5-coder-0.5b-instruct"
context_tokens = ${CTX:-4096}
CFG
        exit 0
    fi
    sleep 1
done
echo "llama-server did not become ready in 120 s; see $DEST/server.log" >&2
exit 1
