#!/usr/bin/env bash
# Install the Debian packages PyMeet needs for a purpose: "run" or "test".
# As root it installs what is missing with apt-get; otherwise it prints the command.
set -euo pipefail

purpose="${1:-test}"
python="${PYTHON:-python3}"

packages=()
# python3 -m venv needs Debian's python3-venv when Python comes from Debian.
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c "import ensurepip" >/dev/null 2>&1; then
  packages+=(python3-venv)
fi
# The desktop client needs Tk; Debian ships Python's tkinter separately.
if [ "$purpose" != "run" ] && ! "$python" -c "import tkinter" >/dev/null 2>&1; then
  packages+=(python3-tk)
fi
if [ "$purpose" = "test" ]; then
  # portaudio19-dev: PyAudio has no Linux wheel and builds against it.
  # chromium: the browser client's tests drive Debian's Chromium with Playwright
  #   (Playwright's own browser download is never used).
  # xvfb, xauth, xdotool, imagemagick: the desktop client's tests run a real Tk window
  #   on a virtual display, drive it and take screenshots.
  # fonts-noto-core: readable Vietnamese and other scripts in the Tk and browser windows.
  packages+=(portaudio19-dev chromium xvfb xauth xdotool imagemagick fonts-noto-core)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "PyMeet needs these system packages: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "PyMeet needs these system packages; please run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
