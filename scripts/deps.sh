#!/usr/bin/env bash
# Installs what bsnnctl's tests need, when it is missing, and prints the path of
# onnxruntime's shared library on stdout (the only thing written to stdout).
#
#   ORT_LIB="$(scripts/deps.sh)"     # or: eval "$(scripts/deps.sh --export)"
#
# What it ensures:
#   - Debian packages (apt-get update runs only if one is missing):
#       python3-torch python3-torchvision python3-onnx libonnx-testdata
#       dataset-fashion-mnist protobuf-compiler python3-h5py hdf5-tools
#       openmpi-bin libopenmpi-dev pkgconf (Open MPI for package dist's
#       tests: mpirun, and cgo's flags from pkg-config's "ompi" module)
#     plus nodejs/npm when npm itself is missing.
#   - npm onnxruntime-node@1.30.0 in a cache folder outside the repository,
#       ${BSNNCTL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bsnnctl}/ort
#     installed with ONNXRUNTIME_NODE_INSTALL=skip (its postinstall would try to
#     download CUDA libraries, which fails offline); the CPU runtime
#     libonnxruntime.so.1 ships inside the tarball.
#
# Environment:
#   BSNNCTL_CACHE     cache folder (see above); internal/interop looks there too.
#   BSNNCTL_ORT_LIB   if set to an existing file, it is used as is and npm is skipped.
#   BSNNCTL_SKIP_APT=1  do not check or install Debian packages.
#
# Safe to run concurrently (a lock serialises installs) and quick when everything
# is present (a few dpkg-query calls and file checks).
set -euo pipefail

ORT_VERSION=1.30.0
APT_PACKAGES=(python3-torch python3-torchvision python3-onnx libonnx-testdata
	dataset-fashion-mnist protobuf-compiler python3-h5py hdf5-tools
	openmpi-bin libopenmpi-dev pkgconf)

log() { printf 'deps.sh: %s\n' "$*" >&2; }
die() {
	printf 'deps.sh: error: %s\n' "$*" >&2
	exit 1
}

mode=print
case "${1:-}" in
'') ;;
--export) mode='export' ;;
-h | --help)
	sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 0
	;;
*) die "unknown argument '$1' (use --export or --help)" ;;
esac

cache="${BSNNCTL_CACHE:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/bsnnctl}"
ort_dir="$cache/ort"

# ---------------------------------------------------------------- Debian packages
pkg_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

ensure_apt() {
	if [[ "${BSNNCTL_SKIP_APT:-}" == 1 ]]; then
		log "BSNNCTL_SKIP_APT=1: not checking Debian packages"
		return
	fi
	command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian (bookworm)"
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if ! command -v npm >/dev/null; then
		pkg_installed nodejs || missing+=(nodejs)
		pkg_installed npm || missing+=(npm)
	fi
	((${#missing[@]} == 0)) && return
	log "installing Debian packages: ${missing[*]}"
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
	for p in "${missing[@]}"; do
		pkg_installed "$p" || die "package $p is still not installed after apt-get install"
	done
}

# ---------------------------------------------------------- onnxruntime (npm)
ort_arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo x64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "no onnxruntime-node CPU build for architecture $(uname -m)" ;;
	esac
}

# find_lib DIR: prints the runtime library inside an npm prefix DIR, if any.
# The tarball ships bin/napi-v6/linux/<arch>/libonnxruntime.so.1; a versioned
# name (libonnxruntime.so.1.N.M) is accepted too in case a release renames it.
find_lib() {
	local arch libdir f
	arch="$(ort_arch)" || return 1
	libdir="$1/node_modules/onnxruntime-node/bin/napi-v6/linux/$arch"
	if [[ -f "$libdir/libonnxruntime.so.1" ]]; then
		printf '%s\n' "$libdir/libonnxruntime.so.1"
		return 0
	fi
	for f in "$libdir"/libonnxruntime.so.1.*; do
		[[ -f "$f" ]] && {
			printf '%s\n' "$f"
			return 0
		}
	done
	return 1
}

installed_version() {
	local pj="$1/node_modules/onnxruntime-node/package.json"
	[[ -f "$pj" ]] || return 1
	node -e 'process.stdout.write(require(process.argv[1]).version)' "$pj" 2>/dev/null
}

ort_ready() {
	[[ "$(installed_version "$ort_dir" || true)" == "$ORT_VERSION" ]] && find_lib "$ort_dir" >/dev/null
}

ensure_ort() {
	if [[ -n "${BSNNCTL_ORT_LIB:-}" ]]; then
		[[ -f "$BSNNCTL_ORT_LIB" ]] || die "BSNNCTL_ORT_LIB=$BSNNCTL_ORT_LIB does not exist"
		log "using BSNNCTL_ORT_LIB=$BSNNCTL_ORT_LIB as given"
		lib="$BSNNCTL_ORT_LIB"
		return
	fi
	command -v node >/dev/null || die "node not found (install Debian's nodejs)"
	if ! ort_ready; then
		command -v npm >/dev/null || die "npm not found (install Debian's npm)"
		mkdir -p "$cache" || die "cannot create cache folder $cache"
		# One installer at a time; the others wait and then find it ready.
		exec 9>"$cache/.ort.lock"
		if command -v flock >/dev/null; then
			flock 9 || die "cannot lock $cache/.ort.lock"
		fi
		if ! ort_ready; then
			local tmp="$ort_dir.tmp.$$"
			rm -rf "$tmp"
			mkdir -p "$tmp"
			log "installing onnxruntime-node@$ORT_VERSION into $ort_dir (about 290 MB, once)"
			local start=$SECONDS
			if ! (cd "$tmp" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save \
				--no-audit --no-fund --no-package-lock --loglevel=error \
				--prefix "$tmp" "onnxruntime-node@$ORT_VERSION" >&2); then
				rm -rf "$tmp"
				die "npm install onnxruntime-node@$ORT_VERSION failed (is the npm registry reachable?)"
			fi
			[[ "$(installed_version "$tmp" || true)" == "$ORT_VERSION" ]] || {
				rm -rf "$tmp"
				die "npm installed an unexpected onnxruntime-node version"
			}
			find_lib "$tmp" >/dev/null || {
				rm -rf "$tmp"
				die "onnxruntime-node@$ORT_VERSION has no libonnxruntime.so.1 under bin/napi-v6/linux/$(ort_arch)"
			}
			rm -rf "$ort_dir"
			mv "$tmp" "$ort_dir"
			log "onnxruntime-node installed in $((SECONDS - start))s"
		fi
		exec 9>&-
	fi
	lib="$(find_lib "$ort_dir")" || die "libonnxruntime.so.1 missing under $ort_dir"
}

ensure_apt
lib=
ensure_ort

if [[ "$mode" == export ]]; then
	printf 'export BSNNCTL_ORT_LIB=%q\n' "$lib"
else
	printf '%s\n' "$lib"
fi
