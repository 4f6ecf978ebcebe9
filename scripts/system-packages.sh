#!/usr/bin/env bash
# Makes sure the Debian/Ubuntu packages Portcullis needs are installed.
# As root it installs what is missing; otherwise it prints the exact apt-get line and fails.
#   usage: scripts/system-packages.sh run|test
set -euo pipefail

case "${1:-run}" in
    run) packages=(libsqlite3-dev) ;;
    test) packages=(libsqlite3-dev python3 python3-venv sqlite3) ;;
    *) echo "usage: $0 run|test" >&2; exit 2 ;;
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
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "Portcullis needs these system packages. Install them as root, then run make again:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
