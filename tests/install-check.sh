#!/bin/sh
# install-check.sh — make install into temporary prefixes, use what was
# installed from another directory, make uninstall. Run from the repository
# root after `make all` (test_lua_cli's test_install runs it); builds nothing
# (`make -o all install` copies what make all built). Needs the MNIST subset
# and Fashion-MNIST in data/ (make test fetches them).
#
#   1. PREFIX=$tmp/usr: the files are where Lua 5.4 and a packager expect them;
#      the docs (README, docs/, results/) under share/doc/hnet
#   2. the installed hnet, found on PATH, runs a script from another directory:
#      its Lua library, the learners and the dataset descriptions are the
#      installed ones; the data comes from HNET_DATA, else from the default
#      data directory ($XDG_DATA_HOME/hnet, else ~/.local/share/hnet), which
#      the installed datasets/fetch.sh fills; a missing dataset is reported
#      with the directory searched and the command that fetches it
#   3. the stock lua5.4 requires "hnet" from the installed directories
#   4. a reinstall removes the files of the previous install
#   5. make uninstall removes exactly the installed files and the emptied hnet
#      folders, leaves foreign files alone, and refuses a second time
#   6. DESTDIR=$tmp/stage PREFIX=/opt/pkg: every file under the stage, the
#      list of files in PREFIX terms; the staged hnet runs (it is relocatable)
set -eu
unset MAKEFLAGS MFLAGS MAKELEVEL HNET_DATA HNET_ROOT HNET_PATH XDG_DATA_HOME LUA_PATH LUA_CPATH
repo=$(pwd)
[ -x "$repo/hnet" ] && [ -r "$repo/hnet.so" ] || { echo "install-check: run make all first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hnet-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install-check: $*" >&2; exit 1; }
mk() { make --no-print-directory -C "$repo" "$@" >"$tmp/make.out" 2>&1 || { cat "$tmp/make.out" >&2; return 1; }; }
# expect TEXT FILE WHAT: FILE must hold TEXT.
expect() { grep -qF -- "$1" "$2" || { cat "$2" >&2; fail "$3: expected '$1'"; }; }

# ---- 1. install ------------------------------------------------------------------
p=$tmp/usr
mk -o all install PREFIX="$p" || fail "make install PREFIX=$p failed"
for f in bin/hnet share/hnet/datasets/fetch.sh; do [ -x "$p/$f" ] || fail "$p/$f: not installed as a program"; done
for f in lib/lua/5.4/hnet.so share/lua/5.4/hnet/init.lua share/lua/5.4/hnet/datasets.lua \
         share/lua/5.4/hnet/learners/init.lua share/lua/5.4/hnet/learners/hypernet.lua \
         share/hnet/datasets/mnist.lua share/hnet/datasets/fashion_mnist.lua share/hnet/datasets/mnist.sha256 \
         share/doc/hnet/README.md share/doc/hnet/datasets/README.md share/hnet/installed-files \
         share/doc/hnet/docs/README.md share/doc/hnet/docs/api.md share/doc/hnet/docs/learners.md \
         share/doc/hnet/results/README.md; do
  [ -f "$p/$f" ] || fail "$p/$f: not installed"
done
# The manual and the results, every page, in the same tree as in the source
# (their relative links hold), with the Lua files of docs/examples/.
n_doc=$(find "$repo/docs" "$repo/results" -type f \( -name '*.md' -o -name '*.lua' \) | wc -l)
[ "$(find "$p/share/doc/hnet/docs" "$p/share/doc/hnet/results" -type f | wc -l)" -eq "$n_doc" ] ||
  fail "not all $n_doc files of docs/ and results/ installed under $p/share/doc/hnet"
n_lua=$(find "$repo/lua/hnet" -name '*.lua' | wc -l)
[ "$(find "$p/share/lua/5.4/hnet" -name '*.lua' | wc -l)" -eq "$n_lua" ] || fail "not all $n_lua files of lua/hnet installed"
[ "$(find "$p" -type f | wc -l)" -eq "$(wc -l <"$p/share/hnet/installed-files")" ] ||
  fail "$p/share/hnet/installed-files does not list every installed file"

# ---- 2. the installed hnet from another directory ----------------------------------
mkdir -p "$tmp/work" "$tmp/home"
cat >"$tmp/work/script.lua" <<'EOF'
local hnet = require "hnet"
local name = arg[1]
local ds = hnet.datasets.load(name, { n_train = 20, n_test = 10 })
local learner = hnet.learners.new("finetune", { target = { "mlp", hidden = { 8 } } })
print(ds.name, ds.train.x:size(1), ds.test.x:size(1), learner:name())
print(hnet.datasets.root(), hnet.datasets.installed(), package.searchpath("hnet.run", package.path))
EOF
want_where="$p/share/hnet	true	$p/share/lua/5.4/hnet/run/init.lua"
cd "$tmp/work"
PATH="$p/bin:$PATH" HOME="$tmp/home" HNET_DATA="$repo/data" hnet script.lua mnist >out 2>err ||
  { cat err >&2; fail "the installed hnet with HNET_DATA=$repo/data failed"; }
expect "mnist	20	10	finetune" out "the installed hnet"
expect "$want_where" out "the installed hnet's library"
# No HNET_DATA and nothing in the default data directory: says where it looked and how to fetch.
if PATH="$p/bin:$PATH" HOME="$tmp/home" hnet script.lua mnist >out 2>err; then fail "a missing dataset was not reported"; fi
expect "dataset 'mnist' not found in $tmp/home/.local/share/hnet/mnist" err "missing data, default directory"
expect "run 'sh $p/share/hnet/datasets/fetch.sh mnist' first" err "missing data, the fetch command"
expect "HNET_DATA=DIR chooses another" err "missing data, how to choose another directory"
# The installed fetch.sh fills the default data directory ($XDG_DATA_HOME/hnet),
# and the installed hnet reads it there.
XDG_DATA_HOME="$tmp/xdg" HOME="$tmp/home" HNET_FASHION_MNIST_SRC="$repo/data/fashion_mnist" \
  sh "$p/share/hnet/datasets/fetch.sh" fashion_mnist >out 2>err || { cat err >&2; fail "the installed fetch.sh failed"; }
[ -e "$tmp/xdg/hnet/fashion_mnist/train-images-idx3-ubyte.gz" ] || fail "fetch.sh did not fill \$XDG_DATA_HOME/hnet"
PATH="$p/bin:$PATH" XDG_DATA_HOME="$tmp/xdg" HOME="$tmp/home" hnet script.lua fashion_mnist >out 2>err ||
  { cat err >&2; fail "the installed hnet did not read \$XDG_DATA_HOME/hnet"; }
expect "fashion_mnist	20	10	finetune" out "the installed hnet, default data directory"

# ---- 3. the stock lua5.4 with the installed module ---------------------------------
if command -v lua5.4 >/dev/null 2>&1; then
  # A sanitized hnet.so (make SAN=1) needs the ASan runtime loaded first.
  asan=$(ldd "$repo/hnet.so" | awk '/libasan/ { print $3 }')
  LUA_PATH="$p/share/lua/5.4/?.lua;$p/share/lua/5.4/?/init.lua" LUA_CPATH="$p/lib/lua/5.4/?.so" \
    HNET_DATA="$repo/data" env ${asan:+LD_PRELOAD="$asan"} lua5.4 script.lua mnist >out 2>err || { cat err >&2; fail "lua5.4 with the installed module failed"; }
  expect "mnist	20	10	finetune" out "lua5.4"
  expect "$want_where" out "lua5.4's hnet library"
else
  echo "install-check: lua5.4 not found; the stock-lua part is skipped"
fi
cd "$repo"

# ---- 4. a reinstall removes what the previous install put -------------------------
echo "return {}" >"$p/share/lua/5.4/hnet/gone.lua"
echo "$p/share/lua/5.4/hnet/gone.lua" >>"$p/share/hnet/installed-files"
mk -o all install PREFIX="$p" || fail "the second make install failed"
[ ! -e "$p/share/lua/5.4/hnet/gone.lua" ] || fail "a reinstall left a file of the previous install"

# ---- 5. uninstall --------------------------------------------------------------------
echo mine >"$p/share/hnet/datasets/mine.lua"
echo mine >"$p/bin/other"
mk uninstall PREFIX="$p" || fail "make uninstall failed"
left=$(cd "$p" && find . -type f -o -type l | LC_ALL=C sort | tr '\n' ' ')
[ "$left" = "./bin/other ./share/hnet/datasets/mine.lua " ] || fail "after make uninstall: left '$left'"
for d in share/lua/5.4/hnet share/doc/hnet; do [ ! -e "$p/$d" ] || fail "make uninstall left $p/$d"; done
if make --no-print-directory -C "$repo" uninstall PREFIX="$p" >"$tmp/make.out" 2>&1; then
  fail "a second make uninstall succeeded"
fi
expect "hnet is not installed under $p" "$tmp/make.out" "a second make uninstall"

# ---- 6. DESTDIR ------------------------------------------------------------------------
s=$tmp/stage
mk -o all install DESTDIR="$s" PREFIX=/opt/pkg || fail "make install DESTDIR=$s failed"
[ -x "$s/opt/pkg/bin/hnet" ] && [ -f "$s/opt/pkg/lib/lua/5.4/hnet.so" ] || fail "DESTDIR: files not under $s/opt/pkg"
grep -qv '^/opt/pkg/' "$s/opt/pkg/share/hnet/installed-files" && fail "DESTDIR: the file list names paths outside /opt/pkg"
"$s/opt/pkg/bin/hnet" -e "print(hnet.datasets.root())" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "the staged hnet failed"; }
expect "$s/opt/pkg/share/hnet" "$tmp/out" "the staged hnet"
mk uninstall DESTDIR="$s" PREFIX=/opt/pkg || fail "make uninstall DESTDIR=$s failed"
left=$(find "$s" -type f -o -type l -o -name '*hnet*' | tr '\n' ' ')
[ -z "$left" ] || fail "after make uninstall DESTDIR=$s: left '$left'"

# The source tree's ./hnet is not an installed one.
"$repo/hnet" -e "print(hnet.datasets.root(), hnet.datasets.installed())" >"$tmp/out" 2>&1
expect "$repo	false" "$tmp/out" "./hnet in the source tree"
echo "install-check: ok (install, use from $tmp/work, lua5.4, reinstall, uninstall, DESTDIR)"
