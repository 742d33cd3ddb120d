#!/usr/bin/env bash
# Installs everything webgpu-em needs on a fresh Debian (bookworm) machine: Node dependencies,
# a WebGPU-capable software Vulkan driver when Dawn finds no adapter, Chromium for the
# browser tests, Dask (python3-distributed) for the distributed EM tests, and what gpustat
# needs to compile the kernels with AMD's compiler (spirv-tools, gcc, the Vulkan headers, Mesa 25).
# With --with-sklearn it also installs Debian's python3-sklearn, and with --with-torch Debian's
# python3-torch, which `npm run bench` times side by side. Safe to run again; it skips what is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

with_sklearn=0
with_torch=0
for arg in "$@"; do
  case "$arg" in
    --with-sklearn) with_sklearn=1 ;;
    --with-torch) with_torch=1 ;;
    *) log "unknown option $arg (known: --with-sklearn, --with-torch)"; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*  (run this script as root or install sudo)"; return 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing Node dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

adapter_found() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }

# Mesa 25's Vulkan drivers (lavapipe, and RADV with its null device) from bookworm-backports.
install_mesa_backports() {
  local src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q 'bookworm-backports' "$src"; then
    log "enabling bookworm-backports for a newer Mesa"
    as_root sed -i 's/^Suites: bookworm bookworm-updates$/& bookworm-backports/' "$src"
    apt_updated=0
  elif [ ! -f "$src" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null
    apt_updated=0
  fi
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
}

if adapter_found; then
  log "WebGPU adapter: $(node scripts/probe-adapter.mjs 2>/dev/null)"
else
  if ! command -v apt-get >/dev/null; then
    log "no WebGPU adapter and no apt-get: install a Vulkan driver that Dawn accepts (Mesa >= 23 lavapipe or a GPU driver)"
    exit 1
  fi
  # bookworm's own Mesa 22.3 lavapipe is refused by Dawn; backports has Mesa 25.
  log "installing the lavapipe software Vulkan driver (mesa-vulkan-drivers from bookworm-backports)"
  apt_install libvulkan1
  install_mesa_backports
  if adapter_found; then
    log "WebGPU adapter: $(node scripts/probe-adapter.mjs 2>/dev/null)"
  else
    log "still no WebGPU adapter after installing lavapipe:"
    node scripts/probe-adapter.mjs || true
    exit 1
  fi
fi

# The browser tests run the library in headless Chromium (Debian's package brings SwiftShader).
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  if command -v apt-get >/dev/null; then
    log "installing Chromium for the browser tests"
    apt_install chromium
  else
    log "no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}: the browser tests need one (set CHROMIUM_PATH)"
  fi
fi

# The Dask driver's tests (python/webgpu_em_dask, run by npm test) need Debian's Dask.
if ! /usr/bin/python3 -c 'import distributed' 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    log "installing Dask for the distributed EM tests (python3-distributed)"
    apt_install python3-distributed
  else
    log "no python3-distributed and no apt-get: the Dask driver's tests need it (CI=true fails without it)"
  fi
fi

# gpustat (scripts/gpustat/: `npm run kernels:stats`, test/kernel-stats.test.ts) compiles the
# kernels with AMD's compiler on a machine without a GPU: spirv-as, a C compiler and the Vulkan
# headers for its vkstats, and Mesa 25's RADV, whose null device (RADV_FORCE_FAMILY) needs no
# hardware, beside lavapipe; installed whatever adapter WebGPU uses here.
mesa_major() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://; s/\..*//'; }
if ! command -v spirv-as >/dev/null || ! command -v cc >/dev/null || [ ! -f /usr/include/vulkan/vulkan.h ]; then
  if command -v apt-get >/dev/null; then
    log "installing spirv-tools, gcc and the Vulkan headers for gpustat"
    apt_install spirv-tools libvulkan-dev gcc
  else
    log "no apt-get: gpustat needs spirv-as, cc and the Vulkan headers (CI=true fails without them)"
  fi
fi
if [ "$(mesa_major)" = "" ] || [ "$(mesa_major)" -lt 25 ] || [ ! -f /usr/share/vulkan/icd.d/radeon_icd.json ]; then
  if command -v apt-get >/dev/null; then
    log "installing Mesa 25's Vulkan drivers for gpustat (mesa-vulkan-drivers from bookworm-backports)"
    install_mesa_backports
  else
    log "no apt-get: gpustat needs Mesa 25's RADV and lavapipe (CI=true fails without them)"
  fi
fi

if [ "$with_sklearn" -eq 1 ] && ! /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
  log "installing scikit-learn for the benchmarks (python3-sklearn)"
  apt_install python3-sklearn
fi

if [ "$with_torch" -eq 1 ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  log "installing PyTorch for the benchmarks' GPU peer (python3-torch)"
  apt_install python3-torch
fi

# bench/gpu-run.sh packs with xz and reads the Vulkan loader's packages with apt-get download.
if ! command -v xz >/dev/null && command -v apt-get >/dev/null; then
  log "installing xz-utils for bench/gpu-run.sh"
  apt_install xz-utils
fi

if [ "${WEBGPU_EM_SKIP_BUILD:-0}" != 1 ]; then
  log "building (tsc)"
  npm run --silent build
fi
log "ready"
