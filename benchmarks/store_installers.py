"""pip or uv for the store's environments? Times both on the same installs.

Not in the registry (it needs ``uv`` on ``PATH`` and takes a minute): run
``PATH=<dir with uv>:$PATH python -m benchmarks.store_installers``. For each installer,
cold (empty cache) and warm (second install, same cache), it builds a fresh environment
(:func:`store.envs.create_env`) and installs, offline, from a folder of wheels:

- ``plain``: a plugin wheel with no dependencies;
- ``one dep``: a plugin needing a library only the folder has;
- ``host dep``: a plugin needing ``requests``, which ledhost has (and the folder not):
  does the installer see ledhost's packages through the environment's ``.pth``?

Prints one line per case: seconds, or the error's last line.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from store import envs
from store.errors import StoreError
from store.settings import StoreSettings
from tests.store_helpers import lib_wheel, plugin_wheel


def main() -> int:
    if shutil.which("uv") is None:
        print("uv is not on PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ledhost-installers-") as tmp:
        root = Path(tmp)
        wheels = root / "wheels"
        lib_wheel(wheels, "fakelib", "1.0.0")
        cases = {
            "plain": plugin_wheel(wheels, "plain"),
            "one dep": plugin_wheel(wheels, "onedep", requires=["fakelib==1.0.0"]),
            "host dep": plugin_wheel(wheels, "hostdep", requires=["requests>=2"]),
        }
        for installer in ("pip", "uv"):
            settings = StoreSettings(
                installer=installer,
                index_url="",
                find_links=(str(wheels),),
            )
            cache = root / f"cache-{installer}"
            os.environ["PIP_CACHE_DIR"] = os.environ["UV_CACHE_DIR"] = str(cache)
            for name, wheel in cases.items():
                runs: list[float] = []
                note = ""
                for attempt in ("cold", "warm", "warm"):
                    if attempt == "cold":
                        shutil.rmtree(cache, ignore_errors=True)
                    env = root / f"env-{installer}-{len(runs)}-{name.replace(' ', '')}"
                    envs.create_env(env)
                    t0 = time.perf_counter()
                    try:
                        envs.install_into(settings, env, str(wheel))
                    except StoreError as exc:
                        note = str(exc).strip().splitlines()[-1][:100]
                        break
                    runs.append(time.perf_counter() - t0)
                    size = sum(f.stat().st_size for f in envs.site_dir(env).rglob("*"))
                    note = f"env site-packages {size // 1024} KB"
                    shutil.rmtree(env)
                cold = f"{runs[0]:.2f}s" if runs else "failed"
                warm = f"{statistics.median(runs[1:]):.2f}s" if len(runs) > 1 else "-"
                print(f"{installer:<4} {name:<9} cold {cold:<7} warm {warm:<6} {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
