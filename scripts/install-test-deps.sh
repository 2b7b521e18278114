#!/usr/bin/env bash
# Install the system packages the test suite drives for real: Debian's Chromium (browser
# tests through Playwright), PostgreSQL (the second database run), SoftHSM2 (chip cards
# through PKCS#11) and a CJK font to embed in printed cards. Does nothing for what
# is already there. Needs root (or sudo) the first time.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "error: the tests need these Debian packages: ${missing[*]}; install them as root" >&2
        exit 2
    fi
fi
echo "installing ${missing[*]} from Debian's packages ..." >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
