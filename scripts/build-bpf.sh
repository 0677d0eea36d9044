#!/bin/sh
# Compiles one BPF C file to an object and generates its libbpf skeleton header.
# usage: build-bpf.sh SRC OUTDIR SKELETON_NAME   (run from the repository root)
set -eu
src=$1 out=$2 name=$3
base=$(basename "$src" .c)
mkdir -p "$out"
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
clang -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_"$arch" \
  -I/usr/include/"$(uname -m)"-linux-gnu -Ibpf -c "$src" -o "$out/$base.o"
# Drop DWARF (BTF stays): smaller embedded object, same CO-RE information.
llvm-strip -g "$out/$base.o"
PATH="$PATH:/usr/sbin:/sbin" bpftool gen skeleton "$out/$base.o" name "$name" > "$out/$name.skel.h"
