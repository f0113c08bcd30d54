#!/usr/bin/env bash
# The whole test suite: installs what a fresh machine lacks, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
# The key the OpenAI adapter tests hand their fake server, set here so the test process never
# changes its own environment while its threads read it.
export STEWARD_TEST_OPENAI_KEY="sk-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
swift test --skip-build "$@"
