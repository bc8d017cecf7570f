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
// its folder) if missing, and returns its descriptor. With wait it polls
// until the lock is free or ctx is done; without, it returns ok=false at
// once when another holds it.
//
// PurgeExpired unlinks lock files that nobody holds, so after taking the
// lock lockFile checks that the file it locked still has a name (a lock
// file is never renamed, only unlinked, so a link count above zero means it
// is still the file at path); if not, it starts again on a new file.
func lockFile(ctx context.Context, path string, wait bool) (fd int, ok bool, err error) {
	fd = -1
	poll := minPoll
	for {
		if fd < 0 {
			if fd, err = openLock(path); err != nil {
				return -1, false, err
			}
		}
		err = flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			var st syscall.Stat_t
			if err := fstat(fd, &st); err != nil {
				closeFD(fd)
				return -1, false, &fs.PathError{Op: "fstat", Path: path, Err: err}
			}
			if st.Nlink == 0 {
				closeFD(fd) // unlinked by a purge meanwhile: take the new file
				fd = -1
				continue
			}
			return fd, true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			closeFD(fd)
			return -1, false, &fs.PathError{Op: "flock", Path: path, Err: err}
		}
		if !wait {
			closeFD(fd)
			return -1, false, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			closeFD(fd)
			return -1, false, ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, maxPoll)
	}
}

func openLock(path string) (int, error) {
	for attempt := 0; ; attempt++ {
		// The folder usually exists: open first, make it only when missing
		// (a purge may also remove an empty folder in between).
		fd, err := sysOpen(path, syscall.O_RDWR|syscall.O_CREAT, 0o600)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == maxRetries {
			return fd, err
		}
		// A purge may remove a parent folder while MkdirAll makes the
		// child: that too is tried again.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil && (!errors.Is(err, fs.ErrNotExist) || attempt == maxRetries) {
			return -1, err
		}
	}
}

func flock(fd, how int) error {
	return ignoringEINTR(func() error { return syscall.Flock(fd, how) })
}

func closeFD(fd int) { _ = syscall.Close(fd) }

// unlockFile releases the flock and closes the file. The explicit unlock
// matters: a child process forked meanwhile (os/exec) holds a copy of the
// descriptor until it execs, and close alone would leave the lock held
// until then.
func unlockFile(fd int) {
	_ = flock(fd, syscall.LOCK_UN)
	closeFD(fd)
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
		fd, ok, err := lockFile(ctx, path, false)
		if err != nil || !ok {
			return err
		}
		_ = unlink(path)
		unlockFile(fd)
		return nil
	})
	if err != nil {
		return err
	}
	return removeEmptyDirs(s.lockDir)
}
