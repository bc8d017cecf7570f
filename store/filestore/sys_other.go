//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filestore

import (
	"errors"
	"io/fs"
	"os"
)

// Without flock New fails, so these only need to compile.

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeTemp(dir, name string, data []byte, sync bool) (string, error) {
	return "", errors.ErrUnsupported
}

func unlink(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func rename(from, to string) error { return os.Rename(from, to) }
