#!/usr/bin/env bash
# update-x-crypto.sh: re-create third_party/golang.org/x/crypto from a
# pinned upstream release, apply the project's patch series to it and run
# upstream's own tests of the packages the series touches (with -race).
#
#   third_party/update-x-crypto.sh            re-create from the pinned version
#                                             (X_CRYPTO_VERSION), then test
#   third_party/update-x-crypto.sh v0.60.0    move to a newer upstream release
#   third_party/update-x-crypto.sh -check     check that the committed tree is
#                                             exactly upstream + the series
#   third_party/update-x-crypto.sh -test      run upstream's tests on the
#                                             committed tree
#   third_party/update-x-crypto.sh -edit N DIR   write DIR/a (upstream + the
#                                             patches before N) and DIR/b (a +
#                                             patch N) to change patch N in b
#   third_party/update-x-crypto.sh -diff N DIR   write patch N back as the
#                                             diff of DIR/a and DIR/b
#
# The tree holds only the packages the pod's build and those tests need
# (PACKAGES below), each as upstream ships it, plus LICENSE, PATENTS,
# go.mod and go.sum. The patches are third_party/patches/NNNN-*.patch,
# applied in order; PATCHES.md gives the reason and the measurement of
# each. A patch that no longer applies stops the script: refresh it by
# hand against the new tree and run the script again.
set -euo pipefail
shopt -s nullglob
here=$(cd "$(dirname "$0")" && pwd)
tree="$here/golang.org/x/crypto"
export PATH="/usr/local/go/bin:$PATH"

# PACKAGES are the upstream packages the tree keeps: what the pod imports
# (directly or not) and what upstream's tests of TESTED import.
PACKAGES=(
  blowfish chacha20 chacha20poly1305 cryptobyte cryptobyte/asn1 curve25519
  internal/alias internal/poly1305 internal/testenv sha3
  ssh ssh/agent ssh/internal/bcrypt_pbkdf ssh/knownhosts ssh/terminal
  ssh/test ssh/testdata
)
# TESTED are the packages the series touches and the packages that test
# them. ssh/test, which runs the patched client against the real OpenSSH
# sshd and ssh, runs on its own (run_sshd_tests).
TESTED=(./ssh/ ./ssh/agent/ ./ssh/internal/... ./ssh/knownhosts/ ./ssh/terminal/
  ./chacha20/ ./chacha20poly1305/ ./internal/poly1305/)

# TEST_ACCOUNT is the account ssh/test logs in as when we run as root: the
# test bed's (test/testbed), created here when missing.
TEST_ACCOUNT=bbsshtest

# build_tree DEST VERSION [UPTO] writes upstream VERSION's PACKAGES to DEST
# and applies the series (only the patches numbered below UPTO when given,
# and then without the gofmt pass).
build_tree() {
  local dest=$1 version=$2 upto=${3:-} src p pkg touched bad num
  src=$(go mod download -json "golang.org/x/crypto@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "update-x-crypto: cannot download golang.org/x/crypto@$version" >&2; return 1; }
  rm -rf "$dest"
  mkdir -p "$dest"
  cp "$src"/{LICENSE,PATENTS,go.mod,go.sum} "$dest/"
  for pkg in "${PACKAGES[@]}"; do
    mkdir -p "$dest/$pkg"
    # The package's own files and its testdata; other subdirectories are
    # packages of their own, listed or not needed.
    find "$src/$pkg" -maxdepth 1 -type f -exec cp {} "$dest/$pkg/" \;
    if [ -d "$src/$pkg/testdata" ] && [ "$pkg" != ssh ]; then cp -r "$src/$pkg/testdata" "$dest/$pkg/"; fi
  done
  chmod -R u+w "$dest"
  for p in "$here"/patches/[0-9]*.patch; do
    [ -e "$p" ] || continue
    num=$(basename "$p"); num=$((10#${num%%-*}))
    if [ -n "$upto" ] && [ "$num" -ge "$upto" ]; then continue; fi
    echo "update-x-crypto: applying $(basename "$p")" >&2
    patch -d "$dest" -p1 --no-backup-if-mismatch --quiet --forward < "$p"
  done
  [ -z "$upto" ] || return 0
  # The files the series touches must be gofmt-clean as patched.
  touched=$(cat /dev/null "$here"/patches/[0-9]*.patch | sed -n 's|^+++ b/\([^[:space:]]*\.go\).*|\1|p' | sort -u)
  if [ -n "$touched" ]; then
    bad=$(cd "$dest" && gofmt -l $touched)
    [ -z "$bad" ] || { echo "update-x-crypto: not gofmt-clean after patching: $bad" >&2; return 1; }
  fi
  # Then the whole tree is put through gofmt, so that the project's own
  # gofmt check covers third_party/ too (upstream's ssh/testdata/keys.go
  # is not gofmt-clean); -check re-creates the tree the same way.
  (cd "$dest" && gofmt -l -w . >/dev/null)
}

# run_sshd_tests runs upstream's ssh/test (with -race) so that none of it
# is skipped for want of something CI has: upstream skips every sshd test
# as root (the sshd it starts can only log in its own user), so as root it
# runs as TEST_ACCOUNT, with the tty group for the sshd's pseudo-terminals;
# and upstream's password tests preload sshd_test_pw.so into the sshd, which
# is built here from its source. The package is copied to a scratch
# directory so that the committed tree stays exactly upstream + the series.
# Only the mlkem768x25519-sha256 case of TestSSHCLIKeyExchanges still skips
# with Debian 12's OpenSSH 9.2, whose ssh lacks that key exchange.
run_sshd_tests() {
  local work as=() who
  work=$(mktemp -d)
  who=$(id -un)
  mkdir -p "$work/ssh"
  cp -r "$tree/ssh/test" "$tree/ssh/testdata" "$work/ssh/"
  (cd "$tree" && go vet ./ssh/test && go test -c -race -o "$work/ssh/test/test.test" ./ssh/test)
  gcc -Wall -shared -fPIC -o "$work/ssh/test/sshd_test_pw.so" "$work/ssh/test/sshd_test_pw.c"
  if [ "$(id -u)" = 0 ]; then
    id "$TEST_ACCOUNT" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TEST_ACCOUNT"
    chown -R "$TEST_ACCOUNT" "$work"
    who=$TEST_ACCOUNT
    as=(setpriv --reuid="$TEST_ACCOUNT" --regid="$(id -g "$TEST_ACCOUNT")" --groups="$(id -g "$TEST_ACCOUNT"),tty")
  fi
  local rc=0
  (cd "$work/ssh/test" && "${as[@]}" env HOME="$work" TMPDIR="$work" ./test.test -test.count=1 -test.timeout=10m) || rc=$?
  rm -rf "$work"
  if [ "$rc" = 0 ]; then echo "ok  	golang.org/x/crypto/ssh/test (as $who)" >&2; fi
  return "$rc"
}

run_tests() {
  echo "update-x-crypto: upstream tests on the patched tree: ${TESTED[*]} ./ssh/test" >&2
  (cd "$tree" && go vet "${TESTED[@]}" && go test -race -count=1 -timeout 20m "${TESTED[@]}")
  run_sshd_tests
  # Upstream's Poly1305 burn-in, which it skips without -stress: 10^10
  # chained MACs checked against a known result (about 7 minutes of one
  # core here), so that no upstream test of a tested package is left
  # skipped in CI. It runs on its own, not beside the timed tests above.
  (cd "$tree" && go test -count=1 -timeout 30m -run '^TestBurnin$' ./internal/poly1305/ -args -stress)
  # The series' fuzz targets, for a bounded number of inputs each: the
  # assembly keystream against the generic one (patches 0002 and 0007),
  # the VAES AES-GCM against crypto/cipher's (patch 0010).
  (cd "$tree" && go test -run '^$' -fuzz '^FuzzChaChaContent$' -fuzztime 20000x ./ssh)
  (cd "$tree" && go test -run '^$' -fuzz '^FuzzVAESGCM$' -fuzztime 20000x ./ssh)
}

case "${1:-}" in
  -test) run_tests ;;
  -check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    build_tree "$tmp/crypto" "$(cat "$here/X_CRYPTO_VERSION")"
    if ! diff -r "$tmp/crypto" "$tree" >&2; then
      echo "update-x-crypto: third_party/golang.org/x/crypto is not upstream $(cat "$here/X_CRYPTO_VERSION") + patches/" >&2
      exit 1
    fi
    series=("$here"/patches/[0-9]*.patch)
    echo "update-x-crypto: tree = upstream $(cat "$here/X_CRYPTO_VERSION") + ${#series[@]} patches" >&2
    ;;
  -edit|-diff)
    [ $# -eq 3 ] || { echo "usage: $0 $1 N DIR" >&2; exit 2; }
    n=$((10#$2)) dir=$3
    series=("$here"/patches/"$(printf %04d "$n")"-*.patch)
    [ ${#series[@]} -eq 1 ] || { echo "update-x-crypto: no patch numbered $n" >&2; exit 1; }
    if [ "$1" = -edit ]; then
      build_tree "$dir/a" "$(cat "$here/X_CRYPTO_VERSION")" "$n"
      rm -rf "$dir/b"; cp -r "$dir/a" "$dir/b"
      patch -d "$dir/b" -p1 --no-backup-if-mismatch --quiet --forward < "${series[0]}"
      echo "update-x-crypto: change $dir/b, then: $0 -diff $n $dir" >&2
    else
      # diff exits 1 when the trees differ, which they must; the file
      # times are left out of the headers.
      (cd "$dir" && { diff -ruN a b || [ $? -eq 1 ]; }) |
        sed 's/^\(---\|+++\) \([^	]*\)	.*$/\1 \2/' > "${series[0]}.new"
      mv "${series[0]}.new" "${series[0]}"
      echo "update-x-crypto: wrote ${series[0]}; re-create the tree: $0" >&2
    fi
    ;;
  -*) echo "usage: $0 [VERSION|-check|-test|-edit N DIR|-diff N DIR]" >&2; exit 2 ;;
  *)
    version=${1:-$(cat "$here/X_CRYPTO_VERSION")}
    build_tree "$tree" "$version"
    echo "$version" > "$here/X_CRYPTO_VERSION"
    run_tests
    ;;
esac
