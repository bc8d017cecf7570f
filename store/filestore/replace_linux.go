package filestore

import (
	"io/fs"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// replace puts the file at tmp in place of the record at path, atomically,
// and removes the record it replaces.
//
// It swaps the two names (renameat2 with RENAME_EXCHANGE), then unlinks
// tmp, which then names the previous record. A plain rename over an
// existing file makes ext4 (auto_da_alloc, its default) start writing the
// new file's data to disk inside the rename, which made a write of a small
// record five to ten times as long (see the package doc). The swap does not
// trigger it, and a reader sees the old record or the new one just the
// same. What it gives up is that heuristic's help against a power cut: see
// the package doc. Where the record does not exist yet it renames, and
// where the file system cannot swap (NFS, an old kernel) it sets noSwap and
// renames, then and for every later write.
func replace(tmp, path string, noSwap *atomic.Bool) error {
	if !noSwap.Load() {
		err := ignoringEINTR(func() error {
			return unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
		})
		switch err {
		case nil:
			// tmp now names the previous record. The new one is in place
			// whatever happens here; a file left behind is removed by
			// PurgeExpired, as after a crash.
			_ = unlink(tmp)
			return nil
		case syscall.ENOENT: // no record yet (tmp exists: it was just written)
		case syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP:
			noSwap.Store(true)
		default:
			return &fs.PathError{Op: "renameat2", Path: path, Err: err}
		}
	}
	return rename(tmp, path)
}
