// Package version reports the build's version, set at link time with
// -ldflags "-X github.com/credd-dev/credd/version.Version=v1.2.3".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version; "dev" for untagged builds.
var Version = "dev"

// String returns a one-line description of the build.
func String(program string) string {
	v := Version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += "+" + s.Value[:12]
				}
			}
		}
	}
	return fmt.Sprintf("%s %s (%s %s/%s)", program, v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
