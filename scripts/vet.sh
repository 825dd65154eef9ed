#!/usr/bin/env bash
# Repository checks that are not about Go syntax: gofmt and file sizes.
# Prints each violation and exits non-zero if there is any. The house rules
# on Go code are an analyzer (internal/houserules) that make lint runs
# through go vet.
set -u
cd "$(dirname "$0")/.."
status=0
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/'))
if [ -n "$unformatted" ]; then echo "vet: gofmt needed:"; echo "$unformatted" | sed 's/^/  /'; status=1; fi
# No build outputs or other large files in the repository: any tracked file
# over 1 MB fails, unless it is listed here as an intended asset.
large_ok=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt 1000000 ] && ! printf '%s\n' "${large_ok[@]}" | grep -qxF "$f"; then
    echo "vet: $f is $size bytes: a tracked file over 1 MB (a build output?)"; status=1
  fi
done < <(git ls-files -z)
exit $status
