//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func flockSupported() error {
	return fmt.Errorf("filestore: flock is not available on this system: %w", errors.ErrUnsupported)
}

func lockFile(ctx context.Context, path string, wait bool) (*os.File, bool, error) {
	return nil, false, errors.ErrUnsupported
}

func unlockFile(f *os.File) {}

func (s *Store) purgeLocks(ctx context.Context) error { return nil }
