#!/usr/bin/env bash
# Install SoftHSM2 (Debian's softhsm2 package), the software PKCS#11 token the chip-card tests
# run against, unless it is already there; then print the path of its PKCS#11 module.
# Installing needs root; when everything is present it runs as anyone and changes nothing.
set -euo pipefail

MODULE=/usr/lib/softhsm/libsofthsm2.so

if [ ! -f "$MODULE" ] || ! command -v softhsm2-util >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: SoftHSM2 is missing; run this script as root to install softhsm2" >&2
        exit 2
    fi
    echo "installing softhsm2 from Debian's packages ..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends softhsm2 >/dev/null
    [ -f "$MODULE" ] || { echo "error: softhsm2 is installed but $MODULE is missing" >&2; exit 1; }
fi
echo "$MODULE"
