#!/bin/sh
# Make sure the Debian packages cowlab builds against are installed.
# As root, missing ones are installed with apt-get; otherwise the one
# apt-get line that is needed is printed and the build stops.
set -u
PKGS="liburcu-dev liburing-dev libcmocka-dev"
missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "cowlab: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 && exit 0
	echo "cowlab: apt-get failed to install$missing" >&2
	exit 1
fi
echo "cowlab: missing packages. Run as root:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
