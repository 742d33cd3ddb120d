#!/usr/bin/env bash
# The benchmarks on a machine with a hardware GPU that has Python (PyTorch, scikit-learn) but no
# Node, no Vulkan loader and no network. Two halves:
#
#   bash bench/gpu-run.sh pack [--fast]
#       Here, on a machine with the project set up: fills .gpu-run/ (ignored by git, under 64 MiB)
#       with the bench compiled to plain JavaScript, Dawn's dawn.node for linux-x64 only, this
#       machine's Node binary (xz-compressed; --fast compresses less, for a rehearsal) and the
#       Vulkan loader as Debian .deb files.
#
#   bash bench/gpu-run.sh run OUTDIR [--small] [--python PATH] [--torch-python PATH]
#                                    [--allow-software] [--peak-tflops X] [--peak-tbps Y]
#       There (or here): unpacks .gpu-run/ under /tmp, checks that Dawn sees a hardware adapter
#       (a software one is an error unless --small or --allow-software), then runs
#         1. the standard configurations without the float64 CPU rows, beside scikit-learn and the
#            PyTorch implementation of the same iterations (bench/torch_em.py) on the same card;
#         2. the size sweep (GPU only);
#         3. gmm full N=10M D=16 K=32, beside PyTorch;
#       and writes each step's table (.md), rows (.json) and log into OUTDIR, then gpu-results.md:
#       all rows with the share of the card's float32 peak and bandwidth. --small runs the same
#       steps at the bench's --quick sizes, so the whole script can be rehearsed on lavapipe.
#       Every step runs even when an earlier one failed; the exit status is 1 if any failed.
#       GPU_RUN_BUNDLED_LOADER=1 uses the bundled Vulkan loader even where the system has one.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bundle=$repo/.gpu-run
log() { echo "[gpu-run] $*" >&2; }
die() { log "error: $*"; exit 1; }

# Packages whose libraries the loader and NVIDIA's Vulkan driver (libGLX_nvidia) need.
LOADER_DEBS=(libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2)
BUNDLE_LIMIT_BYTES=$((60 * 1024 * 1024))

pack() {
  local level=-9
  [ "${1:-}" = --fast ] && level=-1
  command -v xz >/dev/null || die "xz is needed to pack (apt-get install xz-utils)"
  [ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || die "node_modules/webgpu is missing: run bash scripts/setup.sh"
  log "compiling the bench (npm run bench:build)"
  npm run --silent bench:build
  rm -rf "$bundle/app" "$bundle/debs"
  mkdir -p "$bundle/app/node_modules/webgpu/dist/linux-x64" "$bundle/app/scripts" "$bundle/debs"

  cp -r dist-bench "$bundle/app/dist-bench"
  cp -r shaders "$bundle/app/shaders"
  cp scripts/probe-adapter.mjs "$bundle/app/scripts/"
  echo '{ "type": "module", "private": true }' >"$bundle/app/package.json"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$bundle/app/node_modules/webgpu/"
  xz "$level" -T0 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$bundle/dawn.node.xz"

  local node_bin
  node_bin=$(readlink -f "$(command -v node)")
  # A -9 archive is kept across packs (it takes a minute or two); a --fast one is always redone.
  if [ "$level" = -1 ] || [ ! -f "$bundle/node.xz" ] || [ "$node_bin" -nt "$bundle/node.xz" ] ||
    [ -f "$bundle/node.xz.fast" ]; then
    log "compressing $node_bin ($(node --version)) with xz $level"
    xz "$level" -T0 -c "$node_bin" >"$bundle/node.xz.tmp" && mv "$bundle/node.xz.tmp" "$bundle/node.xz"
    if [ "$level" = -1 ]; then touch "$bundle/node.xz.fast"; else rm -f "$bundle/node.xz.fast"; fi
  fi

  log "downloading the Vulkan loader packages: ${LOADER_DEBS[*]}"
  if ! (cd "$bundle/debs" && apt-get download "${LOADER_DEBS[@]}" >/dev/null 2>&1); then
    # Lists may be missing on a fresh machine: read them into a private folder, not the system's.
    local lists=/tmp/webgpu-em-apt-lists
    mkdir -p "$lists/partial"
    apt-get -o Dir::State::Lists="$lists" update -qq
    (cd "$bundle/debs" && apt-get -o Dir::State::Lists="$lists" download "${LOADER_DEBS[@]}" >/dev/null)
  fi

  local size
  size=$(du -sb "$bundle" | cut -f1)
  [ "$size" -le "$BUNDLE_LIMIT_BYTES" ] || die "the bundle is $((size >> 20)) MiB, over the 60 MiB that may travel"
  log "packed $bundle: $((size >> 20)) MiB"
}

# Decompresses an .xz file with xz, or with Python's lzma where xz is not installed.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
    "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

run() {
  local out="" small=0 allow_software=0 torch_python="" peak_tflops=67 peak_tbps=4.8
  python=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --small) small=1 ;;
      --allow-software) allow_software=1 ;;
      --python) python=${2:?--python needs a path}; shift ;;
      --torch-python) torch_python=${2:?--torch-python needs a path}; shift ;;
      --peak-tflops) peak_tflops=${2:?}; shift ;;
      --peak-tbps) peak_tbps=${2:?}; shift ;;
      -*) die "unknown option $1" ;;
      *) [ -z "$out" ] || die "one output folder only (got $out and $1)"; out=$1 ;;
    esac
    shift
  done
  [ -n "$out" ] || die "usage: bench/gpu-run.sh run OUTDIR [--small] [--python PATH] [--torch-python PATH]"
  [ -f "$bundle/node.xz" ] && [ -d "$bundle/app" ] || die "$bundle is not packed: run 'bash bench/gpu-run.sh pack' first"
  if [ -z "$python" ]; then
    for p in /opt/torch/.venv/bin/python3 /usr/bin/python3 python3; do
      if command -v "$p" >/dev/null; then python=$(command -v "$p"); break; fi
    done
  fi
  [ -n "$python" ] || die "no python3 found: pass --python PATH"
  [ -n "$torch_python" ] || torch_python=$python
  local torch_peer=(--torch-python "$torch_python")
  if ! "$torch_python" -c 'import torch' 2>/dev/null; then
    [ "$small" -eq 1 ] || die "$torch_python cannot import torch: the PyTorch peer is part of the run (--torch-python PATH)"
    log "warning: $torch_python cannot import torch; the rehearsal runs without the PyTorch peer"
    torch_peer=()
  fi
  if ! "$python" -c 'import sklearn' 2>/dev/null; then
    [ "$small" -eq 1 ] || die "$python cannot import sklearn: scikit-learn is part of the run (--python PATH)"
    log "warning: $python cannot import sklearn; the rehearsal runs without scikit-learn"
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  [ "$small" -eq 1 ] && allow_software=1

  local work=/tmp/webgpu-em-gpu-run
  rm -rf "$work"
  mkdir -p "$work/root"
  cp -r "$bundle/app" "$work/app"
  unxz_to "$bundle/node.xz" "$work/node"
  chmod +x "$work/node"
  unxz_to "$bundle/dawn.node.xz" "$work/app/node_modules/webgpu/dist/linux-x64/dawn.node"
  log "node $("$work/node" --version)"

  # The loader goes into a private root (nothing under / is replaced); the dynamic linker finds
  # it through LD_LIBRARY_PATH when the system has none.
  if [ "${GPU_RUN_BUNDLED_LOADER:-0}" = 1 ] || ! grep -q 'libvulkan.so.1' <<<"$(ldconfig -p 2>/dev/null)"; then
    for f in "$bundle"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
    export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "Vulkan loader from the bundled packages"
  fi
  # NVIDIA's container images keep the driver's manifest outside the loader's search path.
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ "$allow_software" -eq 0 ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
      /etc/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; fi
    done
  fi
  if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi

  local adapter
  if ! adapter=$(cd "$work/app" && "$work/node" scripts/probe-adapter.mjs --json 2>"$out/adapter.log"); then
    cat "$out/adapter.log" >&2
    die "Dawn found no WebGPU adapter (VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}); see $out/adapter.log"
  fi
  echo "$adapter" >"$out/adapter.json"
  log "adapter: $adapter"
  if echo "$adapter" | grep -q '"software":true'; then
    if [ "$allow_software" -eq 0 ]; then
      die "Dawn chose a SOFTWARE adapter, not the GPU: these figures would be meaningless (--allow-software to run anyway)"
    fi
    log "a software adapter: a rehearsal only"
  elif ! echo "$adapter" | grep -qi 'nvidia' && [ "$allow_software" -eq 0 ]; then
    log "warning: the adapter is not NVIDIA's"
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total \
    --format=csv >"$out/nvidia-smi.csv" 2>&1 || true

  local quick=()
  [ "$small" -eq 1 ] && quick=(--quick)
  local bench=("$work/node" "$work/app/dist-bench/bench/run.js" "${quick[@]}")
  local failed=0 started
  # A software adapter at --small sizes is far slower than a GPU at full ones.
  local scale=1
  [ "$small" -eq 1 ] && scale=4
  step() {
    local name=$1 limit=$(($2 * scale))
    shift 2
    log "step $name (at most ${limit} s)"
    started=$(date +%s)
    if (cd "$work/app" && timeout "$limit" "${bench[@]}" "$@" --json --markdown "$out/$name.md" \
      >"$out/$name.json" 2> >(tee "$out/$name.log" >&2)); then
      log "step $name done in $(($(date +%s) - started)) s"
    else
      log "step $name FAILED (exit $?) after $(($(date +%s) - started)) s; see $out/$name.log"
      rm -f "$out/$name.json"
      failed=1
    fi
  }
  # Caps of 360 s in all (plus unpacking; a GPU run should need about half): with a machine's
  # start, one full-length try and a second short one fit in a 15-minute lease.
  step standard 150 --set standard --no-cpu --sklearn-python "$python" "${torch_peer[@]}"
  step sweep 90 --set sweep --no-cpu --no-sklearn
  step large 120 --set large --no-cpu --no-sklearn "${torch_peer[@]}"

  local results=()
  for name in standard sweep large; do [ -s "$out/$name.json" ] && results+=("$out/$name.json"); done
  if [ "${#results[@]}" -gt 0 ]; then
    (cd "$work/app" && "$work/node" dist-bench/bench/gpu-report.js --peak-tflops "$peak_tflops" \
      --peak-tbps "$peak_tbps" "${results[@]}") >"$out/gpu-results.md"
    cat "$out/gpu-results.md"
  fi
  [ "$failed" -eq 0 ] || die "a step failed; the tables of the others are in $out"
  log "tables in $out"
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: bash bench/gpu-run.sh pack | run OUTDIR [--small] [--python PATH] [--torch-python PATH] [--allow-software]" >&2; exit 2 ;;
esac
