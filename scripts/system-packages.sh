#!/usr/bin/env bash
# Makes sure the Debian/Ubuntu packages Portcullis needs are installed.
# As root it installs what is missing, updating the package lists first (a fresh Debian machine or
# container has none); otherwise it prints the exact apt-get line and fails. When nothing is
# missing it changes nothing and touches no network.
#   usage: scripts/system-packages.sh run|test|bench
set -euo pipefail

# Building: SQLite, libnftables and libqrencode headers. Running the gateway: WireGuard (userspace
# wireguard-go where the kernel has no module), nftables, iproute2.
build=(libsqlite3-dev libnftables-dev libqrencode-dev pkg-config)
gateway=(wireguard-tools wireguard-go nftables iproute2)
case "${1:-run}" in
    run) packages=("${build[@]}" "${gateway[@]}") ;;
    # The suites also use the sqlite3 CLI, git, ping, Python for the third-party checks, headless
    # Chromium with zbarimg and rsvg-convert for the enrollment page (its QR code is decoded),
    # systemd-analyze for the unit file, nginx for the reverse-proxy example, openssl for a
    # throwaway certificate authority, and curl to talk TLS to the server.
    test) packages=("${build[@]}" "${gateway[@]}" sqlite3 git iputils-ping python3 python3-venv
        chromium fonts-dejavu-core zbar-tools librsvg2-bin systemd nginx-light openssl curl ca-certificates) ;;
    bench) packages=("${build[@]}" "${gateway[@]}" wrk python3 python3-venv) ;;
    *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "Installing missing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Once, and only because something is missing: without fresh lists apt knows no package at all.
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "Portcullis needs these system packages. Install them as root, then run make again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
