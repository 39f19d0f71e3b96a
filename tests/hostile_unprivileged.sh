#!/usr/bin/env bash
# The hostile-plugin suite with the host NOT root (issue 13's acceptance: "the same
# suite passes when the host is not root"). Run it as root from the repository:
#
#     tests/hostile_unprivileged.sh [extra pytest arguments]
#
# It runs tests/test_hostile_*.py, test_file_modes.py and test_worker_cgroups.py as an unprivileged user
# (LEDHOST_TEST_USER, default "ledhost-test", created without a home if missing) with a
# Python that user can run (LEDHOST_TEST_PYTHON, default /usr/bin/python3.<same minor>):
# a --without-pip venv of it whose .pth names this checkout's .venv site-packages and the
# repository, so nothing is installed (the same trick as tests/conftest.py's plugin_env).
# The repository and .venv's site-packages must be reachable by that user; the .venv's
# own interpreter need not be (pyenv under /root is not). What needs root is skipped by
# the tests themselves, each with its reason; the run prints those reasons (-rs).
# About 45 s here; not part of the plain `pytest` run because it needs root to switch
# users and a second interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
venv_python=.venv/bin/python
if [ "$(id -u)" != 0 ]; then
    echo "already unprivileged: running the suite as $(id -un)" >&2
    exec "$venv_python" -m pytest -q -rs tests/test_hostile_*.py tests/test_file_modes.py tests/test_worker_cgroups.py "$@"
fi
minor=$("$venv_python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
python=${LEDHOST_TEST_PYTHON:-/usr/bin/python$minor}
user=${LEDHOST_TEST_USER:-ledhost-test}
site=$("$venv_python" -c 'import numpy, os; print(os.path.dirname(os.path.dirname(numpy.__file__)))')
if [ ! -x "$python" ] || [ "$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" != "$minor" ]; then
    echo "need a Python $minor other users can run: set LEDHOST_TEST_PYTHON" >&2
    exit 2
fi
if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
fi
for needed in "$repo" "$site"; do
    if ! runuser -u "$user" -- test -r "$needed/." -a -x "$needed/."; then
        echo "user $user cannot read $needed; put the checkout where others can" >&2
        exit 2
    fi
done
scratch=$(mktemp -d /tmp/ledhost-unprivileged.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 0755 "$scratch"
"$python" -m venv --without-pip "$scratch/env"
printf '%s\n%s\n' "$site" "$repo" > "$(echo "$scratch"/env/lib/python*/site-packages)/ledhost.pth"
mkdir "$scratch/home" && chown "$user" "$scratch/home"
runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME="$scratch/home" LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 "$scratch/env/bin/python" -m pytest -q -rs -p no:cacheprovider \
    tests/test_hostile_*.py tests/test_file_modes.py tests/test_worker_cgroups.py "$@"
