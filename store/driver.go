package store

import (
	"context"
	"log/slog"
	"time"
)

// Driver links one backend into beaker.Open. The root package links the
// backends that need nothing beyond the standard library (memory, file);
// a program links the others (SQL, Redis, memcached) by passing their
// drivers in beaker.Options.Drivers, so that it pays only for what it names:
//
//	b, err := beaker.Open(ctx, s, beaker.Options{
//		Drivers: []store.Driver{redisstore.Driver()},
//	})
//
// A Driver is a plain value: nothing is registered globally.
type Driver struct {
	// Name names the backend in messages ("Redis").
	Name string

	// Types are the session.type and cache.type values the driver serves,
	// in Beaker's spelling and the short one ("ext:redis", "redis").
	Types []string

	// Open opens a store from the settings of one session manager or cache
	// region. The store it returns is closed by the caller when it
	// implements io.Closer. An error about one setting is best a
	// *ConfigError naming it, so that beaker.Open can say where that
	// setting is written.
	Open func(ctx context.Context, c Config) (Store, error)

	// Validate, when not nil, checks c as Open would before doing any I/O:
	// a url that does not parse, a required setting left out, a Params
	// value out of range; its errors are those Open would return.
	// beaker.Check (and so beaker.Open, and beaker check-config) runs it
	// on every store of the settings before opening any. It must not
	// connect, resolve names or touch files: what only that can tell (a
	// server that does not answer, a folder that cannot be made) is left
	// to Open. It may log, through c.Logger at level Warn, what Open
	// would warn about (an option of the url that is ignored, or that
	// weakens the store), with an attribute "key" naming the setting as
	// ConfigError.Key does (Config.WarnURL logs one about the url):
	// beaker.Check reports these as warnings of that
	// setting (beaker check-config prints them), and the driver's Open
	// does not log them again. Nil checks nothing before Open.
	Validate func(c Config) error
}

// ConfigError is an error of a [Driver] about one setting of the [Config]
// it was given: a url that does not parse, a folder that cannot be made, a
// Params value out of range. beaker.Open locates it at the file, line and
// key that set Key, instead of at the type. Test for it with errors.As.
type ConfigError struct {
	// Key is the setting at fault as written after "session." or
	// "cache.": "url", "data_dir", "lock_dir", "table_name", or a Params
	// key such as "redis.pool_size".
	Key string

	// Err is what is wrong with it; its message is the ConfigError's, so
	// it must say what the value is without quoting a secret (a password
	// in a url).
	Err error
}

// Error returns the message of Err.
func (e *ConfigError) Error() string {
	if e.Err == nil {
		return e.Key + ": bad setting"
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Config is what beaker.Open hands a [Driver]: the resolved store settings
// of one session manager (session.*) or cache region (cache.*, overridden
// by cache.<region>.*).
type Config struct {
	// Use is "session" or "cache", for messages and defaults.
	Use string

	// Type is the type as the settings spell it ("ext:redis").
	Type string

	// URL is session.url / cache.url: a connection URL or address list.
	URL string

	// DataDir and LockDir are session.data_dir / session.lock_dir (and the
	// cache.* keys of the same names).
	DataDir, LockDir string

	// TableName is session.table_name / cache.table_name.
	TableName string

	// Timeout bounds one store operation (session.store_timeout); zero
	// means the driver's default.
	Timeout time.Duration

	// Params holds the backend-specific settings of the section, by their
	// key without the "session." or "cache." prefix ("redis.pool_size").
	// beaker.Open only passes keys that its catalogue knows, and "here":
	// the absolute folder of the INI file that holds the url, which a
	// relative path in the url is relative to (left out for a settings
	// map: the working directory).
	Params map[string]string

	// Logger receives the store's logs; never nil.
	Logger *slog.Logger
}

// WarnURL logs, through c.Logger (slog.Default() when it is nil), a
// warning about option, an option of c.URL, with the attribute "key" =
// "url" that beaker.Check locates: what a Driver's Validate logs (see
// Driver.Validate).
func (c Config) WarnURL(option, msg string) {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Warn(msg, "key", "url", "option", option)
}
