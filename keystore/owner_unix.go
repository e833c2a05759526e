//go:build unix

package keystore

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the owning uid of fi, and false where the platform does
// not say.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// openNoFollow makes opening a symlink fail, so an entry file cannot be
// redirected elsewhere.
const openNoFollow = syscall.O_NOFOLLOW
