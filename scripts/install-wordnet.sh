#!/usr/bin/env bash
# Install WordNet 3.0 (Debian's wordnet-base: /usr/share/wordnet) if it is not there yet.
set -euo pipefail
if [ -f /usr/share/wordnet/data.noun ]; then
  exit 0
fi
if [ -n "${WNHOME:-}" ] && [ -f "${WNHOME}/dict/data.noun" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "WordNet 3.0 not found and apt-get is not available: install WordNet 3.0 and set WNHOME," \
       "or run python -m nltk.downloader wordnet" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
echo "Installing WordNet 3.0 (Debian package wordnet-base)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wordnet-base >/dev/null
test -f /usr/share/wordnet/data.noun
