#!/bin/sh
# Runs after credd is removed. The credd user stays (its uid may own files
# elsewhere); /var/lib/credd goes with a purge.
set -e

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/credd
fi
exit 0
