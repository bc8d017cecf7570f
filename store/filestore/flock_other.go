//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import (
	"context"
	"errors"
	"fmt"
)

func flockSupported() error {
	return fmt.Errorf("filestore: flock is not available on this system: %w", errors.ErrUnsupported)
}

func lockFile(ctx context.Context, path string, wait bool) (int, bool, error) {
	return -1, false, errors.ErrUnsupported
}

func unlockFile(fd int) {}

func (s *Store) purgeLocks(ctx context.Context) error { return nil }
