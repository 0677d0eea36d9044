{
  "variables": {
    "bpf_gen": "<(SHARED_INTERMEDIATE_DIR)/wxwatch-bpf",
    # Fails the configure step with the list of missing tools and packages (prints nothing else).
    "build_deps": "<!(node scripts/check-build-deps.js)"
  },
  "targets": [
    {
      # The kernel object, compiled for BPF and wrapped as a libbpf skeleton the addon embeds.
      "target_name": "wxwatch_bpf_skeleton",
      "type": "none",
      "actions": [
        {
          "action_name": "compile_bpf",
          "inputs": ["<!@(node -p \"require('fs').readdirSync('bpf').filter((f) => /[.][ch]$/.test(f)).map((f) => 'bpf/' + f).join(' ')\")"],
          "outputs": ["<(bpf_gen)/wxwatch.bpf.o", "<(bpf_gen)/wxwatch_bpf.skel.h"],
          "action": ["sh", "scripts/build-bpf.sh", "bpf/wxwatch.bpf.c", "<(bpf_gen)", "wxwatch_bpf"]
        },
        {
          # The object for lsm-hook mode on kernels before 6.0 (bpf/lts/), sharing bpf/'s headers.
          "action_name": "compile_bpf_lts",
          "inputs": ["<!@(node -p \"['bpf', 'bpf/lts'].flatMap((d) => require('fs').readdirSync(d).filter((f) => /[.][ch]$/.test(f)).map((f) => d + '/' + f)).join(' ')\")"],
          "outputs": ["<(bpf_gen)/wxwatch-lts.bpf.o", "<(bpf_gen)/wxwatch_lts_bpf.skel.h"],
          "action": ["sh", "scripts/build-bpf.sh", "bpf/lts/wxwatch-lts.bpf.c", "<(bpf_gen)", "wxwatch_lts_bpf"]
        }
      ]
    },
    {
      "target_name": "wxwatch",
      "dependencies": ["wxwatch_bpf_skeleton"],
      "sources": [
        "native/addon.cc",
        "native/batch_pool.cc",
        "native/bpf_program.cc",
        "native/ring_drainer.cc",
        "native/sensor_wrap.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "bpf",
        "<(bpf_gen)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      # Static PIC libbpf/libelf/zlib when .deps/static has them (the prebuilt binary: needs only
      # glibc and libstdc++ on the target), else the system's shared ones (a source build).
      "libraries": ["<!@(node scripts/check-build-deps.js --libs)"]
    }
  ]
}
