#!/bin/sh
# npm run test:asan: the addon built with AddressSanitizer and UBSan into build-asan/ (the normal
# build/ is left alone), then the end-to-end suite loading that addon, with gcc's ASan runtime
# preloaded because node itself is not instrumented. Child processes inherit both.
set -eu
cd "$(dirname "$0")/.."
node scripts/setup.mjs # node_modules, the normal build, dist/
asan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$asan" ]; then
  echo "test:asan: gcc's ASan runtime is missing (Debian: apt-get install libasan8)" >&2
  exit 1
fi
# node-gyp builds next to binding.gyp: a copy of its inputs, sharing node_modules.
rm -rf build-asan
mkdir build-asan
cp -r binding.gyp bpf native scripts build-asan/
ln -s ../node_modules build-asan/node_modules
# vptr needs RTTI, which node-gyp turns off.
san='-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -g'
(cd build-asan && CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" node_modules/.bin/node-gyp rebuild >build.log 2>&1) ||
  { tail -40 build-asan/build.log >&2; exit 1; }
# V8 handles SIGSEGV itself; leaks at exit are node's own, not worth a report per process.
export WXWATCH_ADDON="$PWD/build-asan/build/Release/wxwatch.node"
export LD_PRELOAD="$asan"
export ASAN_OPTIONS="detect_leaks=0:quarantine_size_mb=32:handle_segv=0:allow_user_segv_handler=1:abort_on_error=1:log_path=$PWD/build-asan/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$PWD/build-asan/ubsan"
status=0
node test/run.mjs e2e || status=$?
unset LD_PRELOAD
reports=$(ls build-asan/asan.* build-asan/ubsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "test:asan: sanitizer reports:" >&2
  for r in $reports; do echo "== $r" >&2; head -60 "$r" >&2; done
  exit 1
fi
echo "test:asan: no sanitizer reports"
exit $status
