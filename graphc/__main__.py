"""``python -m graphc cache [--info | --clear]``: where the object cache is, how big, and emptying it.

$ python -m graphc cache --info
graphc object cache: /home/me/.cache/graphc
  142 entries, 3.1 MB (cap 256 MB: GRAPHC_CACHE_MAX_MB; least recently used entries go first)
$ python -m graphc cache --clear
removed 142 entries (3.1 MB) from /home/me/.cache/graphc
"""

from __future__ import annotations

import argparse
import sys

from graphc.codegen.llvm.cache import ObjectCache


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphc", description="graphc's command line")
    commands = parser.add_subparsers(dest="command", required=True)
    cache = commands.add_parser("cache", help="the on-disk cache of compiled code (GRAPHC_CACHE_DIR)")
    action = cache.add_mutually_exclusive_group()
    action.add_argument("--info", action="store_true", help="location, entries, size, cap (the default)")
    action.add_argument("--clear", action="store_true", help="delete every entry")
    args = parser.parse_args(argv)
    store = ObjectCache()
    if args.clear:
        count, freed = store.clear()
        print(f"removed {count} entries ({_mb(freed)}) from {store.directory}")
        return 0
    info = store.info()
    print(f"graphc object cache: {info['directory']}")
    cap = "off (GRAPHC_CACHE_MAX_MB=0)" if info["max_bytes"] <= 0 else f"cap {_mb(info['max_bytes'])}"
    print(f"  {info['entries']} entries, {_mb(info['bytes'])} ({cap}; least recently used entries go first)")
    if info["refused"]:
        print(f"  not used: {info['refused']} (set GRAPHC_CACHE_DIR to a private directory)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
