#!/usr/bin/env bash
# Installs the Debian 12 packages compactor needs to build and test.
# As root it runs apt-get (apt-get update only when something is missing);
# otherwise it prints the apt-get command to run and exits 1.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libopenblas-dev libpcre2-dev libspdlog-dev libfmt-dev
    nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libssl-dev
    libgtest-dev libbenchmark-dev
    gnuplot-nox
    python3 python3-pip ca-certificates
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install_deps: all ${#packages[@]} Debian packages are installed"
    exit 0
fi

echo "install_deps: missing Debian packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: not running as root; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install_deps: installed ${missing[*]}"
