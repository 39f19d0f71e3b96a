#!/bin/sh
# Install ledhost as a systemd service on Raspberry Pi OS (docs/pi.md):
#
#   git clone https://github.com/ledhost/ledhost && cd ledhost
#   sudo deploy/install.sh --rgbmatrix https://github.com/hzeller/rpi-rgb-led-matrix
#
# Safe to run again (it changes only what is not yet as it should be); --dry-run prints
# every step and changes nothing; --help lists the options. All the logic is in
# host/system/install.py; this script only installs the Debian packages it needs.
set -eu
checkout=$(cd "$(dirname "$0")/.." && pwd)

apt=yes
for arg in "$@"; do
    case "$arg" in
        --dry-run|--root|--root=*|--undo-tweaks|-h|--help) apt=no ;;
    esac
done
if [ "$apt" = yes ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # python3-venv for the release venvs; compilers, CMake and git to build the panel
    # binding (docs/panel.md).
    packages="python3-venv python3-dev build-essential cmake git"
    missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "install.sh: apt-get install$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    fi
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "install.sh: ledhost needs Python 3.11 or newer (Raspberry Pi OS Bookworm or later)" >&2
    exit 1
fi
cd "$checkout"
exec python3 -m host.system.install "$@"
