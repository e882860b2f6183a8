#!/usr/bin/env bash
# The gallery's browser test drives Debian's headless chromium through Debian's chromedriver (same
# version, no browser download at test time); install both when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "chromium/chromedriver not found: install them (Debian/Ubuntu: apt-get install chromium chromium-driver) for the gallery browser test" >&2
  exit 1
fi
