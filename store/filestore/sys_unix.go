//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filestore

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// The record and lock files are handled with plain file descriptors, not
// os.File: os.OpenFile tries to register every file with the runtime's
// poller, which costs five more system calls per open (fcntl twice to set
// and clear O_NONBLOCK, twice to read the flags, epoll_ctl that fails for a
// regular file), and os.Rename stats the target first. A session cycle
// opens four files.

// sysOpen is open(2), retried on EINTR, with O_CLOEXEC.
func sysOpen(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := syscall.Open(path, flags|syscall.O_CLOEXEC, perm)
		if err == nil {
			return fd, nil
		}
		if err != syscall.EINTR {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// readFile returns the contents of the file at path. A record file is never
// changed in place (every write renames a new file over it), so its size at
// open is its size: the file is read up to that size, without the read at
// the end that os.ReadFile makes to see EOF.
func readFile(path string) ([]byte, error) {
	fd, err := sysOpen(path, syscall.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	b := make([]byte, st.Size)
	for n := 0; n < len(b); {
		m, err := syscall.Read(fd, b[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case m == 0: // shorter than its size: a file that another program truncates
			return b[:n], nil
		}
		n += m
	}
	return b, nil
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// writeTemp writes data to a new file in dir whose name starts with
// "."+name+".tmp-" (what PurgeExpired takes for a temporary file), mode
// 0600, fsynced when sync is set, and returns its path.
func writeTemp(dir, name string, data []byte, sync bool) (string, error) {
	var (
		fd  int
		tmp string
		err error
	)
	for try := 0; ; try++ {
		tmp = filepath.Join(dir, "."+name+".tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err = sysOpen(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || try == 100 {
			return "", err
		}
	}
	for n := 0; n < len(data) && err == nil; {
		var m int
		m, err = syscall.Write(fd, data[n:])
		switch {
		case err == syscall.EINTR:
			err = nil
		case err == nil && m == 0:
			err = io.ErrShortWrite
		}
		n += max(m, 0)
	}
	if err == nil && sync {
		err = syscall.Fsync(fd)
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		_ = syscall.Unlink(tmp)
		return "", &fs.PathError{Op: "write", Path: tmp, Err: err}
	}
	return tmp, nil
}

// unlink removes the file at path; a missing file is not an error.
func unlink(path string) error {
	for {
		err := syscall.Unlink(path)
		switch err {
		case nil, syscall.ENOENT:
			return nil
		case syscall.EINTR:
			continue
		}
		return &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
}

// rename is rename(2), without os.Rename's stat of the target.
func rename(from, to string) error {
	if err := ignoringEINTR(func() error { return syscall.Rename(from, to) }); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}
