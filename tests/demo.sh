#!/usr/bin/env bash
# make demo: credd working end to end, offline, in a throwaway directory.
# Starts the Tencent STS emulator on loopback, a credd with a file keystore,
# stores a demo key, and shows credctl profiles, export and exec.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/credd-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; }

echo "building credd, credctl and the cloud emulator into $work/bin ..."
go build -o "$work/bin/" ./cmd/credd ./cmd/credctl ./tests/cmd/emulator
export PATH="$work/bin:$PATH"

demo_id=AKIDdemo0000000000000000000000000000
demo_key=demo-secret-key-not-real
"$work/bin/emulator" -listen 127.0.0.1:0 -tencent-key "$demo_id:$demo_key" -addr-file "$work/emu.url" >/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/emu.url" ] && break; sleep 0.05; done
emu=$(cat "$work/emu.url")

export CREDD_CONFIG="$work/credd.toml" CREDD_SOCKET="$work/credd.sock"
cat >"$CREDD_CONFIG" <<TOML
[daemon]
keystore = "file"              # the demo keeps its key in a 0600 file; the default is the OS keyring
keystore_dir = "$work/keys"

[profiles.demo]
provider = "tencent"
key = "demo"
endpoint = "$emu"              # the emulator; leave out to use sts.tencentcloudapi.com
region = "ap-guangzhou"
name = "demo"
policy = '{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}'
duration = "30m"
TOML

credd --log-format text 2>"$work/credd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$CREDD_SOCKET" ] && break; sleep 0.05; done

step "credctl key set demo --kind tencent   # long-lived key, kept by credd"
printf 'secret_id=%s\nsecret_key=%s\n' "$demo_id" "$demo_key" | credctl key set demo --kind tencent

step "credctl profiles"
credctl profiles

step 'eval "$(credctl export demo)"'
eval "$(credctl export demo --shell bash)"
echo "TENCENTCLOUD_SECRET_ID=$TENCENTCLOUD_SECRET_ID"
echo "TENCENTCLOUD_SESSION_TOKEN=${TENCENTCLOUD_SESSION_TOKEN:0:16}... (${#TENCENTCLOUD_SESSION_TOKEN} bytes)"
echo "CREDD_EXPIRATION=$CREDD_EXPIRATION"

step "credctl exec demo -- sh -c 'echo \$TENCENTCLOUD_SECRET_ID'"
credctl exec demo -- sh -c 'echo "child process got $TENCENTCLOUD_SECRET_ID"'

step "credctl profiles   # fetched once, refreshed before expiry"
credctl profiles

step "credctl status"
credctl status
echo
echo "demo done: temporary credentials served from a long-lived key that never left credd."
