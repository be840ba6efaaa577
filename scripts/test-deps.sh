#!/usr/bin/env bash
# Installs what the test suite needs beyond Go itself. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
go mod download
