#!/bin/sh
# Installs the compiled JavaScript and its runtime node_modules under <prefix>/lib/stas.
# Usage (from meson): install-js.sh SOURCE_ROOT JS_BUILD_DIR INSTALL_DIR
set -eu
src=$1 js=$2 dest="${DESTDIR:-}$3"
mkdir -p "$dest"
cp -R "$js/daemons" "$js/ctl" "$dest/"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
# runtime dependencies only; the npm cache filled by the development install serves them offline
cd "$dest" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
# node-udev (optional): its native part was built by the development install (npm ci runs its build script);
# copy it with the two modules it loads at run time instead of building again. Without it, stas follows uevents
# through `udevadm monitor`.
if [ -f "$src/node_modules/udev/build/Release/udev.node" ]; then
  for m in udev bindings file-uri-to-path; do
    [ -d "$src/node_modules/$m" ] && cp -R "$src/node_modules/$m" "$dest/node_modules/"
  done
fi
