#!/usr/bin/env bash
# Builds the release archive dist/plugin-server-<version>-linux-<arch>.tar.gz: the binary (Swift's
# standard library and Foundation linked in), its resources folder, RUNTIME-PACKAGES (the Debian
# packages it needs, derived from ldd and dpkg), an example systemd unit and environment file, the
# README and the CHANGELOG.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="$(sed -n 's/.*static let compatible = "\(.*\)"/\1/p' Sources/PluginServer/PluginServerVersion.swift)"
[ -n "$version" ] || { echo "version not found in Sources/PluginServer/PluginServerVersion.swift" >&2; exit 1; }
arch="$(uname -m)"
name="plugin-server-$version-linux-$arch"

swift build -c release --product plugin-server --static-swift-stdlib
bin_dir="$(swift build -c release --show-bin-path)"

stage="$root/.build/dist/$name"
rm -rf "$stage"
mkdir -p "$stage" "$root/dist"
cp "$bin_dir/plugin-server" "$stage/"
# Debug sections only: symbol names stay for crash backtraces.
strip --strip-debug "$stage/plugin-server"
# Bundle.module looks for the resources folder next to the executable first.
cp -R "$bin_dir/posthog-plugin-server_PluginServer.resources" "$stage/"
cp packaging/plugin-server.service packaging/plugin-server.env.example README.md CHANGELOG.md "$stage/"

# The package owning a file; with merged /usr, dpkg may know it under /lib or /usr/lib.
debian_package() {
  local path real candidate
  path="$1"; real="$(readlink -f "$path")"
  for candidate in "$path" "$real" "${path#/usr}" "/usr$path" "${real#/usr}" "/usr$real"; do
    if owner="$(dpkg -S "$candidate" 2>/dev/null)"; then echo "${owner%%:*}"; return; fi
  done
}

# Every shared library the binary loads, mapped to the Debian package that ships it.
libraries="$(ldd "$stage/plugin-server" | awk '/=>/ { print $3 } /^\t\/.*\(0x/ { print $1 }' | sort -u)"
packages=()
for library in $libraries; do
  [ -e "$library" ] || continue
  package="$(debian_package "$library")"
  [ -n "$package" ] || { echo "no Debian package ships $library" >&2; exit 1; }
  packages+=("$package")
done
{
  echo "# Debian packages plugin-server $version needs at run time (apt-get install -y \$(grep -v '^#' RUNTIME-PACKAGES))."
  echo "# Shared libraries, from ldd and dpkg -S on the build machine:"
  printf '%s\n' "${packages[@]}" | sort -u
  echo "# Programs and data it uses: esbuild compiles TypeScript and ES module plugins; CA certificates for https."
  echo "esbuild"
  echo "ca-certificates"
} > "$stage/RUNTIME-PACKAGES"

tar -C "$root/.build/dist" -czf "$root/dist/$name.tar.gz" "$name"
echo "$root/dist/$name.tar.gz"
