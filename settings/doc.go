// Package settings reads Beaker's session and cache settings the way
// Pyramid applications configure them with pyramid_beaker: from the
// [app:main] section of a PasteDeploy INI file ([Load], [Parse]) or from
// a Pyramid settings dictionary ([FromMap]), and validates them against
// Beaker's key catalogue ([Settings.Check]).
//
// # INI files
//
// Files are read as PasteDeploy reads them (Python's configparser with
// case-sensitive keys, then PasteDeploy's loadwsgi rules):
//
//   - "[name]" starts a section; "[DEFAULT]" may appear more than once.
//     A repeated section, or text after the closing "]", is an error.
//   - "key = value" and "key: value" (the first "=" or ":" separates);
//     blanks around key and value are trimmed; an empty key is an error.
//   - Lines starting with "#" or ";" (after blanks) are comments. There
//     are no inline comments: "a = 1 # x" is "1 # x".
//   - A line indented more than its key line continues the value; the
//     lines are joined with "\n". Empty lines between continuation lines
//     are kept as empty lines of the value, trailing ones are dropped, as
//     configparser does. Comment lines inside a value are skipped.
//   - A key set twice in a section is an error (configparser's strict
//     mode). Any other line is an [ErrSyntax] error.
//   - A UTF-8 byte order mark at the start is ignored. "\r\n" and "\r"
//     end lines too.
//   - "%(name)s" is replaced by the (recursively interpolated) value of
//     name in the same section or [DEFAULT]; "%%" is "%". Any other "%",
//     an undefined name, or more than 10 nested levels is an
//     [ErrInterpolation] error. The defaults "here" (absolute directory of
//     the file) and "__file__" (its absolute path) are predefined and can
//     be overridden in [DEFAULT]. Values of [DEFAULT] and of the read
//     section are all interpolated, as PasteDeploy does, so a bad "%"
//     anywhere in them is an error even for keys this package ignores.
//     To stay fast on hostile input, a value that needs more than 10000
//     reference expansions or grows past 1 MiB is an error too, and so
//     are more than 100000 expansions or 16 MiB of interpolated values
//     in one file (Python would grind through them).
//   - [DEFAULT] keys are available to interpolation but are not
//     settings: PasteDeploy passes them to the application as global_conf.
//     Like PasteDeploy, a key of the section that [DEFAULT] also defines
//     is dropped. Check logs a warning for Beaker keys in either case.
//   - PasteDeploy's "set name = value" lines set a global (usable by
//     "get" lines only) and are not settings; "get name = global" sets
//     name to the global's value, a [DEFAULT] key or a "set" global (an
//     unknown global is an [ErrInterpolation] error).
//   - The section is found as PasteDeploy finds it: "app:main" also
//     matches "[application:main]" and "[app: main ]". A missing section
//     is an [ErrNoSection] error listing the sections found; when the
//     file has a [pipeline:main] instead, the error names the [app:NAME]
//     section its pipeline runs, where Pyramid reads the settings.
//   - Size: a file over [MaxFileSize] (8 MiB) or a line over
//     [MaxLineLength] (64 KiB) is an [ErrTooLarge] error, located at the
//     line. Long values can span indented continuation lines.
//
// # Inherited settings: use = config:
//
// A "use" line in the section is followed as PasteDeploy follows it:
//
//   - "use = config:FILE#NAME" reads the [app:NAME] section of FILE
//     ("#NAME" left out: main), FILE relative to the directory of the file
//     that holds the line; a bare "use = NAME" reads [app:NAME] of the
//     same file. The referenced section may have its own use line.
//   - The referenced section's keys are inherited; the referring section's
//     own keys win, key by key (session.key overrides an inherited
//     beaker.session.key). Within one section, giving a key with and
//     without "beaker." stays an [ErrDuplicate] error.
//   - Each value is interpolated in its own file: %(here)s is the
//     directory of the file that holds the value, and [DEFAULT] is that
//     file's, with the referring file's [DEFAULT] values filling its gaps
//     (PasteDeploy's update_defaults without overwrite).
//   - Every inherited value keeps the file and line where it was written:
//     [Settings.Position] and all errors and warnings point there, and
//     [Settings.Dir] is that file's folder, for a relative path in it.
//   - "use = egg:...", "call:..." and other schemes name the application's
//     code, not settings, and are left alone, as every Pyramid file's
//     "use = egg:myproject" is.
//   - A cycle, more than 8 chained sections, a file that cannot be read,
//     or a missing section is an error located at the use line ([ErrUse];
//     [ErrNoSection] for the section; the I/O error is wrapped too).
//
// # Keys
//
// Keys are used with or without the "beaker." prefix: "beaker.session.key"
// and "session.key" are the same key, and giving both is an
// [ErrDuplicate] error. Settings stores and returns keys without the
// prefix; its getters accept either form. Keys outside "session." and
// "cache." are dropped (a Pyramid file holds many others), except
// pyramid.csrf_trusted_origins, a white-space separated list of origins
// for the CSRF origin check. Check warns about other "beaker.*" keys.
//
// Check accepts these session keys ("session." + key):
//
//	key                 read with         meaning
//	type                String            backend: memory, file, cookie, ext:redis (or redis), ...; default file
//	                                      when data_dir is set, else memory (as Beaker)
//	url                 String            backend address (memcached host list, redis URL, database URL)
//	urls                String            redis cluster addresses (ext:rediscluster)
//	data_dir            String            file/dbm storage directory
//	lock_dir            String            lock file directory
//	key                 String            cookie name (Beaker default beaker.session.id); the beaker package refuses
//	                                      a name that is not an RFC 6265 token, and a __Host- or __Secure- name
//	                                      without session.secure = true (__Host-: also Path=/, no Domain)
//	secret              String            id cookie signing secret: one value, spaces and all, as Beaker reads it
//	secret_fallbacks    Fields            older secrets that still verify (rotation); cookies they verify are re-signed
//	timeout             Seconds           idle timeout: a session unused for longer is discarded; 0 (warned) or unset = none
//	cookie_expires      Bool, Seconds     true = browser-session cookie, false = the session's lifetime,
//	                    or Date           N = N s from when the cookie is set, a date = that instant (see DateForms)
//	cookie_domain       String            cookie Domain
//	cookie_path         String            cookie Path (default /)
//	secure              Bool or "auto"    cookie Secure flag; auto = only for TLS requests
//	httponly            Bool              cookie HttpOnly flag
//	samesite            String            cookie SameSite: Lax (default), Strict, None, or empty for none
//	save_accessed_time  Bool              save the access time on every request (needed by timeout)
//	data_serializer     String            json, or pickle (Beaker-compatible reading only)
//	encrypt_key         String            cookie sessions: key material (without it, validate_key's, else secret's)
//	encrypt_key_fallbacks
//	                    Fields            ours: older encrypt keys that still open cookies (rotation)
//	validate_key        String            cookie sessions: mixed into encrypt_key's keys, or alone the key material
//	crypto_type         String            Beaker crypto backend name
//	invalidate_corrupt  Bool              start a new session instead of failing on corrupt data
//	table_name          String            database table of ext:database / ext:sqla
//	lifetime            Seconds           ours: absolute session lifetime (default decided by the session package)
//	store_timeout       Seconds           ours: time limit for one store operation (default 2 s)
//	format              String            ours: stored format, native or beaker
//	max_entries         Int (>= 0)        ours: bound on stored sessions (memory store)
//	max_bytes           Int (>= 0)        ours: bound on the stored sessions' bytes (memory store)
//	max_size            Int (>= 0)        ours: largest encoded session record in bytes (default 256 KiB; 0: no limit)
//	key_prefix          String            ours: prefix of the session's store keys
//	auto                Bool              save values changed in place after a read (Beaker's session.auto)
//	username, password  String            memcached SASL login: refused with ext:memcached, ignored (warned)
//	                                      for other types
//	file.fsync, sql.pool_size, redis.key_prefix, redis.pool_size, redis.max_retries,
//	memcached.key_prefix, memcached.max_idle_conns, memcached.max_item_size
//	                                      ours: backend options, read by the store's driver (store.Config.Params);
//	                                      redis.max_retries takes -1 for none
//
// and these cache keys ("cache." + key), each of them except regions
// also valid per region as "cache.<region>." + key for a region listed in
// cache.regions (an override for another region is an [ErrUnknownRegion]
// error):
//
//	key         read with   meaning
//	regions     List        names of the cache regions
//	type        String      backend, as for sessions
//	expire      Seconds     entry lifetime
//	data_dir    String      file/dbm storage directory
//	lock_dir    String      lock file directory
//	url         String      backend address
//	urls        String      redis cluster addresses
//	enabled     Bool        false disables caching
//	key_length  Int (>= 1)  longest key before it is hashed
//	max_entries Int (>= 0)  ours: bound on a memory region's entries
//	key_prefix  String      ours: prefix of the region's store keys
//	table_name  String      database table of ext:database
//	round_trip  Bool        ours: a memory region keeps encoded values, as a store does
//	file.fsync, sql.*, redis.*, memcached.*
//	            as for sessions: backend options read by the store's driver
//
// The "read with" column is what Check validates: Bool, Int, Seconds and
// Date values must parse (as the getters of the same name parse them),
// "Bool, Seconds or Date" and "Bool or \"auto\"" accept any of their forms;
// String, List and Fields values are not checked here (their consumers
// check them).
// Defaults are left to the callers: every getter takes one.
//
// Beaker keys that this project accepts but does not implement are logged
// as warnings by Check and are otherwise ignored:
// session.cookie_on_exception, session.memcache_module,
// session.encrypt_nonce_bits, session.id, session.webtest_varname,
// session.schema_name, session.constant_csrf_token, session.sa.*, and for
// caches (global or per region) memcache_module, schema_name,
// log_file and sa.*. Any other session.* or cache.* key is an
// [ErrUnknownKey] error suggesting the nearest known key, for example
// "demo.ini:12: session.timout: unknown Beaker setting; did you mean
// session.timeout?".
//
// # Values and errors
//
// The getters ([Settings.Bool], [Settings.Int], [Settings.Seconds], ...)
// return their default when the key is absent and an *[Error] locating the
// key when its value does not parse. Booleans are Beaker's asbool without
// its fallbacks (true/yes/on/y/t/1, false/no/off/n/f/0, any case); an
// empty or other value is an error. Integers are an optional sign and
// decimal digits. Seconds are whole non-negative numbers of seconds.
// Dates are ISO 8601 ([DateForms]): 2027-01-31, 2027-01-31T12:00:00 (or a
// space for the T), optionally with Z or an offset; UTC without one, as
// Beaker writes a naive datetime. (Beaker takes a datetime only from
// Python code: from an INI string it accepts a boolean or seconds.)
//
// All errors are *[Error] values carrying file, line and key, wrapping one
// of the sentinels [ErrSyntax], [ErrNoSection], [ErrDuplicate],
// [ErrInterpolation], [ErrUnknownKey], [ErrUnknownRegion], [ErrBadValue],
// [ErrTooLarge], [ErrUse].
// Error messages never show the values of secret, encrypt_key,
// validate_key, url and urls (nor of keys ending in password); use [Mask]
// to print such values.
//
// # Cache regions
//
// [Settings.Region] returns a region's view of the cache settings: the
// global cache.<key> values with the region's cache.<region>.<key>
// overrides in their place, read with the same getters
// (r.Seconds("cache.expire", def)). [Settings.CacheValue] looks one value
// up the same way. The keys are sorted by region once, so reading every
// region's view is linear in the number of keys (50,000 regions take well
// under a second).
package settings
