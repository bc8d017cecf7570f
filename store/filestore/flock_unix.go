//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func flockSupported() error { return nil }

// Polling bounds of a wait for a flock held by another process (flock(2)
// cannot wait with a deadline, and a blocked call cannot be cancelled).
const (
	minPoll = 500 * time.Microsecond
	maxPoll = 20 * time.Millisecond
)

// lockFile takes an exclusive flock of the file at path, creating it (and
// its folder) if missing. With wait it polls until the lock is free or ctx is
// done; without, it returns ok=false at once when another holds it.
//
// PurgeExpired unlinks lock files that nobody holds, so after taking the
// lock lockFile checks that path still names the file it locked; if not, it
// starts again on the new file.
func lockFile(ctx context.Context, path string, wait bool) (f *os.File, ok bool, err error) {
	poll := minPoll
	for {
		if f == nil {
			if f, err = openLock(path); err != nil {
				return nil, false, err
			}
		}
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if same, serr := samePath(f, path); serr != nil || !same {
				_ = f.Close() // unlinked by a purge meanwhile: take the new file
				f = nil
				if serr != nil {
					return nil, false, serr
				}
				continue
			}
			return f, true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, false, &fs.PathError{Op: "flock", Path: path, Err: err}
		}
		if !wait {
			_ = f.Close()
			return nil, false, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, false, ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, maxPoll)
	}
}

func openLock(path string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		// The folder usually exists: open first, make it only when missing
		// (a purge may also remove an empty folder in between).
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == maxRetries {
			return f, err
		}
		// A purge may remove a parent folder while MkdirAll makes the
		// child: that too is tried again.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil && (!errors.Is(err, fs.ErrNotExist) || attempt == maxRetries) {
			return nil, err
		}
	}
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func samePath(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

// unlockFile releases the flock and closes the file.
func unlockFile(f *os.File) {
	_ = flock(f, syscall.LOCK_UN)
	_ = f.Close()
}

// purgeLocks removes the lock files that no one holds, then the lock
// folders that became empty. A lock file is unlinked only while this call
// holds its flock, and lockFile checks the path after locking, so a
// concurrent locker never ends up holding an unlinked file.
func (s *Store) purgeLocks(ctx context.Context) error {
	err := filepath.WalkDir(s.lockDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if path != s.lockDir && path == s.dataDir {
				return fs.SkipDir // lock_dir = data_dir: leave the records alone
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".lock") {
			return nil
		}
		f, ok, err := lockFile(ctx, path, false)
		if err != nil || !ok {
			return err
		}
		_ = os.Remove(path)
		unlockFile(f)
		return nil
	})
	if err != nil {
		return err
	}
	return removeEmptyDirs(s.lockDir)
}
