//go:build !linux

package filestore

import "sync/atomic"

// replace renames the file at tmp over the record at path, atomically.
func replace(tmp, path string, noSwap *atomic.Bool) error { return rename(tmp, path) }
