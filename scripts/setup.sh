#!/usr/bin/env bash
# Installs the Debian packages Steward needs to build and test, when they are missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

packages=(
  libffi-dev        # libffi: foreign (ffi) steps
  libsqlite3-dev    # SQLite for the embedded store (GRDB) and FTS5
  zlib1g-dev        # zlib: the SQLite store deflates snapshots and journal payloads
  gcc g++           # C plugins and the ABI header checks (C11 and C++17)
  chromium chromium-driver  # the reviewer page's end-to-end test in a real headless browser
  python3-pip python3-setuptools python3-wheel  # the Python client's install test (offline: no package index)
  postgresql        # the scale-out store's tests start their own server (initdb into a temp folder)
)

# Cargo (and with it a Rust compiler) for the Rust plugin example in Plugins/examples:
# rustup's when it is there, else Debian's.
if ! command -v cargo >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/cargo" ]]; then
  packages+=(cargo)
fi

missing=()
for package in "${packages[@]}"; do
  [[ "$package" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
  else
    sudo=
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
