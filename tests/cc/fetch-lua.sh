#!/bin/sh
# Fetch Lua 5.4's upstream sources from Debian's lua5.4 source package
# into tests/cc/lua/, for tests/cc and bench/cc (a real multi-file C
# project with a plain Makefile). The machine's apt sources normally list
# binary packages only, so this uses a private apt state directory with
# deb-src entries derived from the machine's own sources (same mirrors,
# same signing keys); the system's apt configuration is left alone.
# Idempotent; run by scripts/install-deps.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/lua
[ -f "$dest/src/Makefile" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/dl"
n=0
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	sed 's/^Types:.*/Types: deb-src/' "$f" >"$tmp/etc/src$n.sources"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	sed -n 's/^deb \(.*\)/deb-src \1/p' "$f" >"$tmp/etc/src$n.list"
done
apt="apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$tmp/etc
  -o Dir::State::Lists=$tmp/lists -o Dir::Cache=$tmp/cache
  -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
$apt update >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; exit 1; }
# apt checks the files against the signed Sources index.
# shellcheck disable=SC2086
(cd "$tmp/dl" && $apt source --download-only lua5.4) >"$tmp/source.log" 2>&1 ||
	{ cat "$tmp/source.log" >&2; exit 1; }
orig=$(ls "$tmp"/dl/lua5.4_*.orig.tar.* | head -1)
mkdir -p "$tmp/x"
tar -xf "$orig" -C "$tmp/x"
top=$(ls "$tmp/x")
rm -rf "$dest.new"
mv "$tmp/x/$top" "$dest.new"
basename "$orig" >"$dest.new/DEBIAN-ORIGIN"
mv "$dest.new" "$dest"
echo "jitfarm: Lua sources from $(cat "$dest/DEBIAN-ORIGIN") in $dest"
