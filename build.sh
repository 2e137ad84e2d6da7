#!/usr/bin/env bash
# build.sh: build, test and demo the bbssh pod.
#
#   ./build.sh          build the static binary build/bbssh
#   ./build.sh test     build, then run every test: go vet, gofmt, go test
#                       (unit tests and the end-to-end scripts through real
#                       babashka against a real OpenSSH sshd)
#   ./build.sh demo     build, then run examples/quickstart.clj against a
#                       throwaway OpenSSH sshd on 127.0.0.1
#   ./build.sh bench    build, then measure the pod against OpenSSH's ssh
#                       on the same sshd and write bench/RESULTS.md
#   ./build.sh docs     build, then render docs/*.md and an API reference made
#                       from the pod's var metadata into build/docs/ (HTML);
#                       fails on a broken internal link
#   ./build.sh release  cross-compile static binaries for every platform of
#                       resources/pod-manifest.edn, zip them under the names it
#                       gives into build/release/, with SHA256SUMS and the
#                       manifest with each zip's sum, checked against each other
#   ./build.sh soak [minutes]
#                       build, then cycle sessions, forwards, commands and
#                       copies for that long (default 3) and fail on a leak
#                       of goroutines, descriptors, handles or heap
#
# Missing system packages (openssh-server, a Java runtime, ...) are
# installed with apt-get when running as root. Clojure scripts (tests,
# demo, soak, docs) run through babashka: bb on the PATH, else
# ../shared/tools/bb/bb (babashka on the JVM); with neither, the command
# stops at once.
set -euo pipefail
cd "$(dirname "$0")"

VERSION=$(cat resources/BBSSH_VERSION)
export PATH="/usr/local/go/bin:$PATH"

# need_packages installs the Debian packages whose command is missing.
need_packages() {
  local missing=()
  command -v go >/dev/null || { echo "build.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  [ -x /usr/sbin/dropbear ] || missing+=(dropbear-bin)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v useradd >/dev/null || missing+=(passwd)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v patch >/dev/null || missing+=(patch) # third_party/update-x-crypto.sh
  command -v gcc >/dev/null || missing+=(gcc libc6-dev) # its ssh/test's sshd_test_pw.so
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "build.sh: please install: ${missing[*]}" >&2; exit 1
    fi
    echo "build.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# find_bb sets BB to the babashka that runs the project's Clojure scripts:
# bb on the PATH (the native binary), else ../shared/tools/bb/bb
# (babashka built from source, on the JVM).
find_bb() {
  if command -v bb >/dev/null; then
    BB=$(command -v bb)
  elif [ -x ../shared/tools/bb/bb ]; then
    BB=$(cd ../shared/tools/bb && pwd)/bb
  else
    echo "build.sh: no babashka: put bb on the PATH (https://babashka.org), or ../shared/tools/bb/bb beside this repository" >&2
    exit 1
  fi
}

build() {
  mkdir -p build
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o build/bbssh .
  echo "built build/bbssh ($(build/bbssh -v))" >&2
}

run_tests() {
  echo "== go vet" >&2
  go vet ./...
  echo "== gofmt" >&2
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$unformatted" ]; then echo "gofmt: not formatted: $unformatted" >&2; exit 1; fi
  echo "== go test" >&2
  go test -count=1 -timeout 45m ./...
  echo "== patched golang.org/x/crypto: upstream + third_party/patches, upstream's tests (-race)" >&2
  third_party/update-x-crypto.sh -check
  third_party/update-x-crypto.sh -test
  echo "== fuzz (bounded)" >&2
  fuzz pod FuzzReader 5          # bencode request frames
  fuzz pod FuzzDecodeArgs 5      # EDN arguments and their accessors
  fuzz bbssh FuzzParseForwardSpec 4
  fuzz bbssh FuzzScpReceive 5    # what a hostile scp server sends
  fuzz bbssh FuzzReadSocksRequest 2
  fuzz bbssh FuzzReadSSHConfig 3
}

# fuzz PKG TARGET SECONDS runs one fuzz target (its committed seeds in
# PKG/testdata/fuzz/TARGET first) for a bounded time. Go 1.26's fuzz
# coordinator can end a clean run with a spurious "context deadline
# exceeded" (golang/go#75804, fixed in Go 1.27): that, with no failing
# input written, is not a failure.
fuzz() {
  local pkg=$1 target=$2 secs=$3 corpus="$1/testdata/fuzz/$2" before after out
  before=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
  if out=$(go test -run '^$' -fuzz "^$target\$" -fuzztime "${secs}s" "./$pkg" 2>&1); then
    echo "fuzz $target: $(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 || true) in ${secs}s" >&2
    return 0
  fi
  after=$( (ls "$corpus" 2>/dev/null || true) | wc -l)
  if [ "$after" = "$before" ] && grep -q 'context deadline exceeded' <<<"$out" &&
     ! grep -q 'Failing input written' <<<"$out"; then
    echo "fuzz $target: ignored Go's spurious end-of-run deadline (golang/go#75804)" >&2
    return 0
  fi
  echo "$out" >&2
  echo "fuzz $target failed" >&2
  return 1
}

run_demo() {
  BBSSH_POD="$PWD/build/bbssh" go run ./test/cmd/testsshd -- "$BB" examples/quickstart.clj
}

run_bench() {
  go run ./bench -pod "$PWD/build/bbssh" "$@"
}

run_soak() {
  local minutes=${1:-3}
  [[ "$minutes" =~ ^[0-9]+$ ]] || { echo "usage: $0 soak [minutes]" >&2; exit 2; }
  BBSSH_POD="$PWD/build/bbssh" BBSSH_SOAK_SECONDS=$((minutes * 60)) BBSSH_E2E_DIR="$PWD/test/e2e" \
    go run ./test/cmd/testsshd -- "$BB" bench/soak.clj
}

run_docs() {
  go run ./tools/docsite -pod build/bbssh -out build/docs -bb "$BB"
}

run_release() {
  command -v go >/dev/null || { echo "build.sh: Go is required (https://go.dev/dl/)" >&2; exit 1; }
  go run ./tools/release -out build/release
}

case "${1:-build}" in
  build) need_packages; build ;;
  test) find_bb; need_packages; build; run_tests ;;
  demo) find_bb; need_packages; build; run_demo ;;
  bench) need_packages; build; shift; run_bench "$@" ;;
  docs) find_bb; need_packages; build; run_docs ;;
  release) run_release ;;
  soak) find_bb; need_packages; build; shift; run_soak "$@" ;;
  *) echo "usage: $0 [build|test|demo|bench|soak|docs|release]" >&2; exit 2 ;;
esac
