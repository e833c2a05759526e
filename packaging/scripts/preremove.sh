#!/bin/sh
# Runs before credd is removed (deb: "remove"; rpm: $1 = 0) or upgraded
# (deb: "upgrade"; rpm: $1 = 1), where it must leave the service alone.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
	systemctl disable --now credd.socket credd.service >/dev/null 2>&1 || true
fi
exit 0
