package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/gobeaker/beaker/store"
)

// ParamFsync is the store.Config.Params key of Options.Sync (INI key
// session.file.fsync / cache.file.fsync): a boolean, false by default.
const ParamFsync = "file.fsync"

// Driver returns the driver of the "file" type (Beaker's session.type =
// file), for beaker.Open. It reads Config.DataDir (required), Config.LockDir
// and Config.Params[ParamFsync]. Its errors about one of them are
// *store.ConfigError naming it.
func Driver() store.Driver {
	return store.Driver{
		Name:  "file",
		Types: []string{"file"},
		Validate: func(c store.Config) error {
			_, err := optionsFromConfig(c)
			return err
		},
		Open: func(ctx context.Context, c store.Config) (store.Store, error) {
			opts, err := optionsFromConfig(c)
			if err != nil {
				return nil, err
			}
			st, err := New(opts)
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, &store.ConfigError{Key: dirKey(c, pe.Path), Err: err}
			}
			return st, err
		},
	}
}

// optionsFromConfig maps c to Options, without I/O.
func optionsFromConfig(c store.Config) (Options, error) {
	opts := Options{DataDir: c.DataDir, LockDir: c.LockDir, Logger: c.Logger}
	if v, ok := c.Params[ParamFsync]; ok {
		b, ok := parseBool(v)
		if !ok {
			return Options{}, &store.ConfigError{Key: ParamFsync, Err: fmt.Errorf("filestore: %s.%s = %q: not a boolean", c.Use, ParamFsync, v)}
		}
		opts.Sync = b
	}
	if opts.DataDir == "" {
		return Options{}, &store.ConfigError{Key: "data_dir", Err: fmt.Errorf("%w (%s.data_dir)", ErrNoDataDir, c.Use)}
	}
	return opts, nil
}

// dirKey is the setting that a folder New could not make is about:
// lock_dir when it is on the way to Config.LockDir and not to the records
// (New makes the records' folder first).
func dirKey(c store.Config, failed string) string {
	if c.LockDir != "" && leadsTo(failed, c.LockDir) && !leadsTo(failed, filepath.Join(c.DataDir, nativeLayout.records)) {
		return "lock_dir"
	}
	return "data_dir"
}

// leadsTo reports whether path is dir or one of its parents.
func leadsTo(path, dir string) bool {
	rel, err := filepath.Rel(path, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// parseBool reads a boolean as Beaker's asbool does: true, yes, on, y, t, 1
// and false, no, off, n, f, 0, in any case.
func parseBool(v string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "y", "t", "1":
		return true, true
	case "false", "no", "off", "n", "f", "0":
		return false, true
	}
	return false, false
}
