#!/bin/sh
# keyring-session.sh runs a command inside a private D-Bus session bus that
# has an unlocked gnome-keyring (the Secret Service, with a "login"
# collection), so that credd's keyring keystore can be tested for real
# without touching the user's own session or keyrings.
#
# usage: tests/keyring-session.sh CMD [ARG...]
#
# CMD inherits the environment plus DBUS_SESSION_BUS_ADDRESS (the private
# bus) and CREDD_KEYRING_SESSION=1. HOME is left alone, so tools that keep
# caches under it (go test) still find them; the keyring's own files live in
# a temporary directory that is removed, with the daemon and the bus, when
# CMD exits. The exit status is CMD's; 127 when a tool is missing.
#
# The keyring password is "credd-test". The steps, if you need them inline:
#   dbus-run-session -- sh -c '
#     printf %s credd-test | HOME=$T XDG_DATA_HOME=$T/data XDG_RUNTIME_DIR=$T/run \
#       gnome-keyring-daemon --foreground --unlock --components=secrets &
#     ...wait until org.freedesktop.secrets has an owner...; exec CMD'
set -eu

if [ $# -eq 0 ]; then
	echo "usage: $0 CMD [ARG...]" >&2
	exit 2
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "keyring-session.sh: $tool not found: install dbus, dbus-bin and gnome-keyring" >&2
		exit 127
	fi
done

if [ -z "${CREDD_KEYRING_SESSION_DIR:-}" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/credd-keyring.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
	mkdir -m 700 "$tmp/home" "$tmp/data" "$tmp/run" "$tmp/services"
	# A bus of our own with an empty service directory: nothing is
	# activated behind our back (the system's org.freedesktop.secrets
	# service file would start a gnome-keyring on the real ~/.local/share).
	cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$tmp/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
	status=0
	CREDD_KEYRING_SESSION_DIR=$tmp dbus-run-session --config-file="$tmp/bus.conf" -- sh "$0" "$@" || status=$?
	exit "$status"
fi
tmp=$CREDD_KEYRING_SESSION_DIR
unset CREDD_KEYRING_SESSION_DIR

gkd=
cleanup() {
	if [ -n "$gkd" ]; then
		kill "$gkd" 2>/dev/null || true
		wait "$gkd" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --unlock reads the password from stdin and creates the "login" keyring
# with it when there is none; --foreground keeps the daemon our child so
# cleanup can stop it.
printf %s credd-test | HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_RUNTIME_DIR="$tmp/run" \
	gnome-keyring-daemon --foreground --unlock --components=secrets >"$tmp/gkd.log" 2>&1 &
gkd=$!

# Wait (up to 10 s) until the login collection is served: go-keyring
# looks it up by path.
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true &&
	dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
		org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Service string:Collections 2>/dev/null |
	grep -q /org/freedesktop/secrets/collection/login; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$gkd" 2>/dev/null; then
		echo "keyring-session.sh: gnome-keyring-daemon did not serve the login collection:" >&2
		cat "$tmp/gkd.log" >&2
		exit 1
	fi
	sleep 0.1
done

export CREDD_KEYRING_SESSION=1
status=0
"$@" || status=$?
exit "$status"
