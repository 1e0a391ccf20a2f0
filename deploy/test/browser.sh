#!/usr/bin/env bash
# What the browser tests need from Debian: Chromium (driven by playwright-core, which never
# downloads a browser of its own) and fonts for Chinese text and emoji, so that the pages and
# the screenshots in docs/ read as people see them. Installed when missing (as root, or with
# sudo); without Chromium the browser tests cannot run, so that is an error, not a skip.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
for font in fonts-noto-cjk fonts-noto-color-emoji; do
    dpkg -s "$font" >/dev/null 2>&1 || need+=("$font")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing Debian's ${need[*]} for the browser tests" >&2
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >&2 \
        || { "${as_root[@]}" apt-get update -q >&2 \
             && "${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }
fi
if ! /usr/bin/chromium --version >/dev/null 2>&1; then
    echo "error: /usr/bin/chromium does not run: the browser tests need Debian's chromium package" >&2
    exit 1
fi
