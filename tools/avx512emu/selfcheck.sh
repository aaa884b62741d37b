#!/usr/bin/env bash
# selfcheck.sh - build the selfcheck tests (AVX-512 Go assembly compared with
# plain Go) and run them under the emulator. Options before the first
# non-option are passed to run.sh (e.g. --verbose, --keep).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/avx512emu-selfcheck.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && CGO_ENABLED=0 go test -c -o "$tmp/selfcheck.test" ./selfcheck)
status=0
"$here/run.sh" "$@" "$tmp/selfcheck.test" -test.v || status=$?
exit "$status"
