//go:build !unix

package keystore

import "io/fs"

// fileOwner reports no owner where the platform has no uids; the mode check
// still applies.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

const openNoFollow = 0
