#!/usr/bin/env bash
# The whole test suite: installs what a fresh machine lacks, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
