#!/usr/bin/env bash
# Installs what the test suite needs beyond Go itself. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
go mod download

# The official openai npm client, for cmd/quarry/openai_client_test.go
# (tests/openai-client). Without node and npm that test skips, except
# under CI=true, where it fails: so CI installs them when it can.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: installing nodejs and npm with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
	fi
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	echo "test-deps: npm ci in tests/openai-client (node $(node --version))"
	(cd tests/openai-client && npm ci --no-audit --no-fund --loglevel=error)
else
	echo "test-deps: node/npm not found: skipping tests/openai-client (its Go test skips; with CI=true it fails)" >&2
fi

# OCR of images and scanned PDF pages (ingest/ocr_test.go): tesseract
# with English and Simplified Chinese, pdftoppm to render PDF pages, and
# the fonts the test renders its "scanned" pages with. Without them the
# OCR tests skip, except under CI=true, where they fail.
ocr_pkgs="tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim poppler-utils fonts-dejavu-core fonts-droid-fallback"
ocr_missing=""
for p in $ocr_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || ocr_missing="$ocr_missing $p"
done
if [ -n "$ocr_missing" ]; then
	if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: installing$ocr_missing with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $ocr_missing >/dev/null
	else
		echo "test-deps: missing$ocr_missing (OCR tests skip; with CI=true they fail)" >&2
	fi
fi

# Headless Chromium for the website widget's browser tests
# (cmd/quarry/widget_browser_test.go, driven with chromedp). Without it
# they skip, except under CI=true, where they fail.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: installing chromium with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "test-deps: chromium not found (the widget's browser tests skip; with CI=true they fail)" >&2
	fi
fi
