#!/usr/bin/env bash
# What a device call carries: the working tree (tracked files and untracked files git does not ignore) plus the
# carried ignored paths, at most 64 MiB in all. The repository alone is close to that (shipped weights, the ruler,
# stages, docs images), so a training call parks the tracked paths it does not read outside the tree first.
#
#   bash scripts/device_travel.sh size [CARRY...]     # bytes that would travel, with the largest tracked files
#   bash scripts/device_travel.sh park PATH...        # move tracked PATHs to $PARK (default /tmp/device-park)
#   bash scripts/device_travel.sh unpark [PATH...]    # move everything parked back (run it after the calls), or
#                                                     # only PATHs (a warm chain's swap between calls)
#
# Typical training call: park docs/img tests/fixtures e2e/fixtures public/models/mmamba-s public/models/uvit-s
# (about 24 MB the GPU never reads), then carry data/packed, the prior tables and training/runs/recipe.
# While paths are parked, git status shows them deleted: commit nothing until `unpark`.
set -euo pipefail
cd "$(dirname "$0")/.."
PARK=${PARK:-/tmp/device-park}
LIMIT=$((64 * 1024 * 1024))

tree_files() { { git ls-files; git ls-files --others --exclude-standard; } | sort -u; }

case "${1:-}" in
  size)
    shift
    tree=$(tree_files | while IFS= read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done | du -cb --files0-from=- | tail -1 | cut -f1)
    carry=0
    for p in "$@"; do
      [ -e "$p" ] || { echo "device_travel: carry path $p does not exist" >&2; exit 1; }
      carry=$((carry + $(du -sb "$p" | cut -f1)))
    done
    total=$((tree + carry))
    printf 'tree %.2f MB + carry %.2f MB = %.2f MB of %.2f MB (64 MiB)\n' \
      "$(echo "$tree / 1000000" | bc -l)" "$(echo "$carry / 1000000" | bc -l)" \
      "$(echo "$total / 1000000" | bc -l)" "$(echo "$LIMIT / 1000000" | bc -l)"
    echo "largest tracked files:"
    git ls-files -z | xargs -0 du -b 2>/dev/null | sort -n | tail -8 | awk '{printf "  %6.2f MB  %s\n", $1 / 1e6, $2}'
    [ "$total" -le "$LIMIT" ] || { echo "over the limit by $(( (total - LIMIT) / 1000 )) kB: park something" >&2; exit 1; } ;;
  park)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 park PATH..." >&2; exit 2; }
    for p in "$@"; do
      [ -e "$p" ] || { echo "device_travel: $p does not exist" >&2; exit 1; }
      [ -n "$(git ls-files -- "$p")" ] || { echo "device_travel: $p is not tracked (carry lists decide ignored paths)" >&2; exit 1; }
      [ ! -e "$PARK/$p" ] || { echo "device_travel: $PARK/$p already holds a parked copy: unpark first" >&2; exit 1; }
      mkdir -p "$PARK/$(dirname "$p")" && mv "$p" "$PARK/$p" && echo "parked $p"
    done ;;
  unpark)
    [ -d "$PARK" ] || { echo "nothing parked"; exit 0; }
    if [ $# -gt 1 ]; then   # only these paths (a warm chain's swap: park the stage, bring a shipped model back)
      shift
      for p in "$@"; do
        [ -e "$PARK/$p" ] || { echo "device_travel: $p is not parked" >&2; exit 1; }
        [ ! -e "$p" ] || { echo "device_travel: $p exists in the tree again; $PARK/$p left alone" >&2; exit 1; }
        mkdir -p "$(dirname "$p")" && mv "$PARK/$p" "$p" && echo "restored $p"
      done
      find "$PARK" -depth -type d -empty -delete 2>/dev/null || true
      exit 0
    fi
    (cd "$PARK" && find . -mindepth 1 -maxdepth 8 \( -type f -o -type d \) -print) | sort | while IFS= read -r p; do
      p=${p#./}
      [ -e "$PARK/$p" ] || continue   # moved with its parent already
      if [ -n "$(git ls-files -- "$p")" ] && [ ! -e "$p" ]; then
        mkdir -p "$(dirname "$p")" && mv "$PARK/$p" "$p" && echo "restored $p"
      fi
    done
    find "$PARK" -depth -type d -empty -delete 2>/dev/null || true
    [ ! -d "$PARK" ] || { echo "device_travel: left in $PARK (a path exists in the tree again?):" >&2; find "$PARK" -type f >&2; exit 1; } ;;
  *) echo "usage: $0 size [CARRY...] | park PATH... | unpark [PATH...]" >&2; exit 2 ;;
esac
