#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard browser test when it is missing.
# The test drives it through playwright-core with executablePath /usr/bin/chromium,
# so no browser download from a CDN is needed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version
