#!/bin/sh
# Runs after credd is installed or upgraded (deb: "configure" [old-version];
# rpm: $1 = 1 on install, 2 on upgrade).
set -e

# The credd user and group must exist before credd.socket can be started
# (SocketUser=credd). systemd-sysusers reads the file the package installed;
# hosts without it (minimal containers) get the same user by hand.
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/credd.conf
elif ! getent passwd credd >/dev/null 2>&1; then
	getent group credd >/dev/null 2>&1 || groupadd --system credd
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid credd --home-dir /var/lib/credd --no-create-home \
		--shell "$nologin" --comment "credd credential daemon" credd
fi

# Only talk to systemd when it is the running init.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	upgrade=no
	case "$1" in
	configure) [ -n "$2" ] && upgrade=yes ;;
	2) upgrade=yes ;;
	esac
	if [ "$upgrade" = yes ]; then
		# Pick up the new binary; clients reconnect through the socket.
		systemctl try-restart credd.service >/dev/null 2>&1 || true
	fi
fi
exit 0
