#!/usr/bin/env bash
# Checks a release archive as an operator's machine would see it: extracted into a clean folder,
# started from an empty directory with a bare environment, it prints --version and --help; every
# shared library it loads comes from a package listed in RUNTIME-PACKAGES; the resources folder is
# beside the binary. With TEST_POSTGRES_URL set, `migrate --seed` runs from the extracted copy into
# a scratch database (the binary finds its SQL resources when moved).
#   scripts/check-dist.sh [dist/plugin-server-<version>-linux-<arch>.tar.gz]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
archive="${1:-$(ls -t "$root"/dist/plugin-server-*.tar.gz 2>/dev/null | head -1)}"
[ -f "$archive" ] || { echo "no archive; run make dist first" >&2; exit 1; }
version="$(sed -n 's/.*static let compatible = "\(.*\)"/\1/p' "$root/Sources/PluginServer/PluginServerVersion.swift")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/install" "$work/empty"
tar -C "$work/install" -xzf "$archive"
folder="$(ls "$work/install")"
install="$work/install/$folder"
binary="$install/plugin-server"
failures=0
check() { if "$@"; then echo "ok: $description"; else echo "FAILED: $description" >&2; failures=$((failures + 1)); fi; }

for file in plugin-server RUNTIME-PACKAGES plugin-server.service plugin-server.env.example README.md CHANGELOG.md \
  posthog-plugin-server_PluginServer.resources/Resources/posthog.sql; do
  description="the archive has $file"; check test -e "$install/$file"
done
description="the archive is named for version $version"; check grep -q -- "-$version-linux-" <<<"$archive"

# A bare environment, no library path, an empty working directory.
run_clean() { (cd "$work/empty" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH= "$binary" "$@"); }
version_output="$(run_clean --version 2>&1 || true)"
description="--version prints $version ($version_output)"; check grep -q "v$version" <<<"$version_output"
help_output="$(run_clean --help 2>&1 || true)"
description="--help lists the settings"; check grep -q "Supported configuration environment variables" <<<"$help_output"

listed="$(grep -v '^#' "$install/RUNTIME-PACKAGES" | sort -u)"
ldd_output="$(env -i LD_LIBRARY_PATH= ldd "$binary")"
description="ldd finds every library"; check bash -c '! grep -q "not found" <<<"$0"' "$ldd_output"
while read -r library; do
  [ -n "$library" ] || continue
  package=""
  real="$(readlink -f "$library")"
  for candidate in "$library" "$real" "${library#/usr}" "/usr$library" "${real#/usr}" "/usr$real"; do
    if owner="$(dpkg -S "$candidate" 2>/dev/null)"; then package="${owner%%:*}"; break; fi
  done
  description="$library comes from listed package ${package:-<none>}"
  check grep -qx -- "$package" <<<"$listed"
done < <(awk '/=>/ { print $3 } /^\t\/.*\(0x/ { print $1 }' <<<"$ldd_output" | sort -u)

description="no Swift runtime library is loaded from outside the binary"
check bash -c '! grep -Eq "libswiftCore|libFoundation|lib_FoundationICU|libdispatch" <<<"$0"' "$ldd_output"

if [ -n "${TEST_POSTGRES_URL:-}" ]; then
  database="dist_check_$$"
  psql "$TEST_POSTGRES_URL" -X -q -c "CREATE DATABASE $database" >/dev/null
  url="${TEST_POSTGRES_URL%/*}/$database"
  description="migrate --seed from the extracted copy finds its SQL resources"
  check bash -c 'cd "$0" && env -i PATH=/usr/bin:/bin DATABASE_URL="$1" LOG_LEVEL=warn "$2" migrate --seed' "$work/empty" "$url" "$binary"
  description="the seeded team exists"
  check bash -c '[ "$(psql "$0" -X -tAc "SELECT count(*) FROM posthog_team WHERE id = 2")" = 1 ]' "$url"
  psql "$TEST_POSTGRES_URL" -X -q -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null
fi

if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
echo "release archive $(basename "$archive") checked"
