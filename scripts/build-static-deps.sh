#!/bin/sh
# Builds position-independent static libbpf, libelf and zlib from Debian 12's own source
# packages, for the prebuilt addon (npm run prebuild / prepack). Debian ships these archives
# without -fPIC, which cannot go into a shared object; linked from here, the prebuilt .node
# needs only glibc and libstdc++ on the target. Output: .deps/static/lib/lib{bpf,elf,z}.a,
# also kept in a per-user cache (WXWATCH_DEPS_CACHE, default ~/.cache/wxwatch/static-deps) so
# that another clone on the same machine does not build them again.
# usage: scripts/build-static-deps.sh   (from the repository root; needs curl, dpkg-source, make, cc)
set -eu
root=$(pwd)
work=$root/.deps
out=$work/static/lib
pool=http://deb.debian.org/debian/pool/main
versions=zlib_1.2.13.dfsg-1+elfutils_0.188-2.1+libbpf_1.1.2-0+deb12u1-$(uname -m)
cache=${WXWATCH_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wxwatch/static-deps}/$versions
mkdir -p "$work/src" "$out"
if [ ! -f "$out/libbpf.a" ] && [ -f "$cache/libbpf.a" ] && [ -f "$cache/libelf.a" ] && [ -f "$cache/libz.a" ]; then
  cp "$cache/libbpf.a" "$cache/libelf.a" "$cache/libz.a" "$out/"
fi
for tool in curl dpkg-source sha256sum make cc ar; do
  command -v "$tool" >/dev/null || { echo "build-static-deps: needs $tool (Debian: apt-get install curl dpkg-dev make gcc)" >&2; exit 1; }
done

# dsc (pinned by sha256) → files it lists → unpacked tree with Debian's patches applied.
fetch() {
  dir=$1 dsc=$2 sum=$3 tree=$4
  cd "$work/src"
  if [ ! -d "$tree" ]; then
    curl -fsS -O "$pool/$dir/$dsc"
    echo "$sum  $dsc" | sha256sum -c --quiet -
    for f in $(awk '/^Checksums-Sha256:/{on=1;next} /^[A-Z]/{on=0} on{print $3}' "$dsc"); do
      curl -fsS -O "$pool/$dir/$f"
    done
    # Checks every file against the sums in the (pinned) .dsc, then applies the patches.
    dpkg-source -x "$dsc" "$tree" >/dev/null
  fi
  cd "$root"
}

jobs=${WXWATCH_BUILD_JOBS:-2}

if [ ! -f "$out/libz.a" ]; then
  fetch z/zlib zlib_1.2.13.dfsg-1.dsc 3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8 zlib
  (cd "$work/src/zlib" && CFLAGS="-O2 -fPIC" ./configure --static >/dev/null && make -s -j"$jobs" libz.a)
  cp "$work/src/zlib/libz.a" "$out/"
fi

if [ ! -f "$out/libelf.a" ]; then
  fetch e/elfutils elfutils_0.188-2.1.dsc 2e73c5bfe9d0ddbf837742d638c43b049590ae1de8f6e3d9c2740c28e2550760 elfutils
  (cd "$work/src/elfutils" &&
    CFLAGS="-O2 -fPIC" ./configure --quiet --disable-debuginfod --disable-libdebuginfod \
      --without-bzlib --without-lzma --without-zstd >/dev/null &&
    make -s -C lib -j"$jobs" && make -s -C libelf -j"$jobs" libelf_pic.a)
  cp "$work/src/elfutils/libelf/libelf_pic.a" "$out/libelf.a"
fi

if [ ! -f "$out/libbpf.a" ]; then
  fetch libb/libbpf libbpf_1.1.2-0+deb12u1.dsc 96f81dad2d5f1505ac8c3630249c77f7fcb9ab2f429c4386b2eee2149b7a8c4b libbpf
  make -s -C "$work/src/libbpf/src" -j"$jobs" BUILD_STATIC_ONLY=y OBJDIR="$work/libbpf-obj" \
    EXTRA_CFLAGS="-O2 -fPIC" "$work/libbpf-obj/libbpf.a"
  cp "$work/libbpf-obj/libbpf.a" "$out/"
fi
# The cache is a convenience: failing to fill it fails nothing.
{ mkdir -p "$cache" && cp "$out/libbpf.a" "$out/libelf.a" "$out/libz.a" "$cache/"; } 2>/dev/null || true
ls -l "$out"
