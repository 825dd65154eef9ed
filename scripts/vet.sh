#!/usr/bin/env bash
# House rules that the compiler does not check. Prints each violation and
# exits non-zero if there is any. A line marked //sio:root-context is a
# documented root context (a long-lived object's own lifetime).
set -u
cd "$(dirname "$0")/.."
status=0
rule() { # rule <description> <grep -E pattern> <paths...>
  local what=$1 pattern=$2; shift 2
  local hits
  hits=$(git ls-files -- "$@" | grep -E '\.go$' | grep -vE '_test\.go$|^gen/' | xargs -r grep -nE "$pattern" | grep -v '//sio:root-context' || true)
  if [ -n "$hits" ]; then
    echo "vet: $what:"; echo "$hits" | sed 's/^/  /'; status=1
  fi
}
rule "use any, not interface{}" 'interface\{\}' .
rule "no time.After in library code (it leaks until it fires)" 'time\.After\(' runtime
rule "no context.Background/TODO in library code" 'context\.(Background|TODO)\(' runtime
rule "no printing or global logging in library code; inject a *slog.Logger" '(^|[^.a-zA-Z])(fmt\.Print|log\.)' runtime
rule "no panics in library code" '(^|[^.a-zA-Z])panic\(' runtime
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
