#!/usr/bin/env bash
# Install the system packages the workbench needs (ngspice, Qt runtime libraries).
# On Debian bookworm as root: ngspice 46 (with KLU) from bookworm-backports.
# Elsewhere as root on Debian/Ubuntu: the distribution's ngspice.
# Not root: print the exact command to run and carry on (tests needing ngspice skip with a reason).
set -euo pipefail

# Qt 6's xcb platform plugin (a real X display) needs every one of these; with one missing Qt aborts with a
# message that names xcb-cursor0 whatever is really missing (QT_DEBUG_PLUGINS=1 names the library)
QT_LIBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 fonts-dejavu-core libdbus-1-3
 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1"
QT_SONAMES="libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libxkbcommon-x11.so.0 libfontconfig.so.1 libdbus-1.so.3
 libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-image.so.0 libxcb-keysyms.so.1 libxcb-randr.so.0
 libxcb-render-util.so.0 libxcb-shape.so.0 libxcb-xfixes.so.0 libxcb-xinerama.so.0 libxcb-xkb.so.1"
QT_LIBS=$(echo $QT_LIBS)  # one line for the messages below
NEED_QT=0
for lib in $QT_SONAMES; do
    ldconfig -p 2>/dev/null | grep -q "$lib" || NEED_QT=1
done

codename=""
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    codename="${VERSION_CODENAME:-}"
fi

# ngspice counts as present when it is there and, on bookworm, is the KLU-enabled 46 from backports
# (bookworm's own 39 has no KLU and is ~50x slower on large arrays)
have_ngspice=0
if command -v ngspice >/dev/null 2>&1; then
    have_ngspice=1
    major=$(ngspice -v 2>/dev/null | grep -oE 'ngspice-[0-9]+' | head -1 | cut -d- -f2 || true)
    if [ "$codename" = bookworm ] && [ -n "$major" ] && [ "$major" -lt 40 ] && [ "$(id -u)" = 0 ]; then
        have_ngspice=0
    fi
fi

if [ "$have_ngspice" = 1 ] && [ "$NEED_QT" = 0 ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "reram-workbench: ngspice and/or Qt runtime libraries are missing. Install them with:" >&2
    if [ "$codename" = bookworm ]; then
        echo "  sudo apt-get install -t bookworm-backports ngspice $QT_LIBS   (after enabling bookworm-backports)" >&2
    else
        echo "  sudo apt-get install ngspice $QT_LIBS" >&2
    fi
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$codename" = bookworm ]; then
    src=/etc/apt/sources.list.d/bookworm-backports.sources
    if [ ! -e "$src" ]; then
        mirror=$(grep -hoE 'https?://[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1 || true)
        [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
        cat > "$src" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq -t bookworm-backports ngspice >/dev/null
    apt-get install -y -qq $QT_LIBS >/dev/null
else
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq ngspice $QT_LIBS >/dev/null
fi
ngspice --version 2>/dev/null | grep -i ngspice | head -1 || true
