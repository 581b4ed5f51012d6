#!/bin/sh
# Install the Debian packages some tests need, but only when running as root on Debian
# and only those missing; otherwise do nothing: the tests that need them are skipped with
# a message naming the packages. Called by the README's test command (and so by CI).
#   AVR firmware (build for Uno/Mega, run in simavr): gcc-avr avr-libc binutils-avr
#       arduino-core-avr arduino-builder avrdude simavr libsimavr-dev
#   report.html opened in a headless browser: chromium
#   video.mp4 re-encoded to H.264 for the browser: ffmpeg
PACKAGES="gcc-avr avr-libc binutils-avr arduino-core-avr arduino-builder avrdude simavr libsimavr-dev chromium ffmpeg"
[ "$(id -u)" = 0 ] || exit 0
command -v apt-get >/dev/null 2>&1 || exit 0
command -v dpkg-query >/dev/null 2>&1 || exit 0
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0
echo "ensure_tools: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >&2; then
    exit 0
fi
echo "ensure_tools: could not install$missing; the tests that need them will be skipped" >&2
exit 0
