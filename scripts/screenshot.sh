#!/usr/bin/env bash
# Render an HTML report to PNG with headless Chromium (Debian package `chromium`).
#   scripts/screenshot.sh reports/sample/2026-10/00_overview.html docs/overview.png [height]
set -euo pipefail
page=$(realpath "$1"); png=$2; height=${3:-2400}
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$(mktemp -d)" --window-size=1100,"$height" \
    --screenshot="$(realpath -m "$png")" "file://$page" >/dev/null 2>&1
echo "$png"
