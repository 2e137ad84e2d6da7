#!/usr/bin/env bash
# Builds the test pod and runs the pod client's self test (selftest.clj)
# through pbb in a scratch working directory. Last line: "N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here" && go build -o "$work/testpod" ./testpod)
mkdir "$work/cwd"
cd "$work/cwd"
"$here/pbb" "$here/selftest.clj" "$work/testpod"
