#!/usr/bin/env bash
# Install Debian's OpenStack Swift (+ s3api, memcached) for tests/swift/server.py.
# Idempotent and quiet: exits 0 at once when everything is installed already.
# Debian 12 (bookworm): swift 2.30.1. Needs root (or sudo).
set -euo pipefail

PACKAGES=(swift-proxy swift-account swift-container swift-object python3-swift memcached)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ] && [ -x /usr/bin/swift-proxy-server ] && [ -x /usr/bin/memcached ]; then
    exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
    missing=("${PACKAGES[@]}")  # files gone although dpkg says installed: reinstall
    reinstall=(--reinstall)
else
    reinstall=()
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "tests/swift/install.sh: need root to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "tests/swift/install.sh: installing ${missing[*]}" >&2
log=$(mktemp)
# The packages' maintainer scripts would start (and enable) the daemons with
# /etc/swift's config: forbid service starts for the duration of the install,
# unless the machine already has a policy.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup() {
    if [ "$own_policy" -eq 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi
    rm -f "$log"
}
trap cleanup EXIT

apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        --no-install-recommends "${reinstall[@]}" "${missing[@]}" >>"$log" 2>&1
}
if ! apt_install; then
    # package lists missing or stale: refresh once and retry
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >>"$log" 2>&1 || true
    if ! apt_install; then
        echo "tests/swift/install.sh: apt-get install failed:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
fi

for bin in /usr/bin/swift-proxy-server /usr/bin/swift-account-server \
    /usr/bin/swift-container-server /usr/bin/swift-object-server /usr/bin/memcached; do
    if [ ! -x "$bin" ]; then
        echo "tests/swift/install.sh: $bin missing after install" >&2
        exit 1
    fi
done
