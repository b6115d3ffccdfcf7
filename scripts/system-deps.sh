#!/usr/bin/env bash
# Debian packages the tests need: Chromium for the browser tests (Playwright cannot download
# browsers here, so it drives Debian's), CJK fonts so Chinese renders in screenshots, and the
# PostgreSQL server binaries (the tests start a throwaway cluster when no TEST_DATABASE_URL is set); Pango for
# WeasyPrint (notices and decisions as PDF, with the CJK fonts) and poppler-utils (pdftotext, pdftoppm) with which
# the tests read the PDFs back.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0' || missing+=(libharfbuzz-subset0)  # fast font subsets
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "please install as root: apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "installing ${missing[*]} (apt; waits up to 10 minutes for another apt to finish)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
