package settings

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultSection is the section Load and Parse read when given "".
const DefaultSection = "app:main"

const (
	// defaultName is the name of ConfigParser's defaults section.
	defaultName = "DEFAULT"
	// maxDepth is ConfigParser's MAX_INTERPOLATION_DEPTH.
	maxDepth = 10
	// maxExpansions bounds the %(name)s references expanded for one value,
	// and maxValueLen the length of an interpolated value; both guard
	// against exponential blow-up (Python would just take forever).
	maxExpansions = 10000
	maxValueLen   = 1 << 20
	// maxFileExpansions and maxFileBytes bound the same for all the values
	// of one file.
	maxFileExpansions = 100000
	maxFileBytes      = 16 << 20
)

// MaxFileSize is the largest settings file Load and Parse read (8 MiB),
// and MaxLineLength the longest line (64 KiB). A larger file or a longer
// line is an [ErrTooLarge] error (a settings file is hand-written; this
// stops "beaker check-config /dev/zero" from exhausting memory). Long
// values can span indented continuation lines.
const (
	MaxFileSize   = 8 << 20
	MaxLineLength = 64 << 10
)

// maxUseDepth bounds a chain of "use = config:" references.
const maxUseDepth = 8

// iniOption is one key of a section, with its raw (uninterpolated) value.
type iniOption struct {
	name  string
	parts []string // value lines, joined by "\n" once the file is read
	value string
	line  int
}

// iniSection is one [section] of the file.
type iniSection struct {
	name  string
	line  int
	opts  []*iniOption
	index map[string]*iniOption
}

func newSection(name string, line int) *iniSection {
	return &iniSection{name: name, line: line, index: map[string]*iniOption{}}
}

// iniFile is a parsed INI file, before interpolation.
type iniFile struct {
	file     string // the name shown in errors
	here     string // %(here)s: the absolute directory of the file
	abs      string // %(__file__)s: the absolute path ("" for unnamed input)
	defaults *iniSection
	sections []*iniSection
	byName   map[string]*iniSection

	// interpolation work done so far, bounded by maxFile*.
	expansions, produced int
}

// Load reads the INI file at path and returns the settings of section
// ("" means [DefaultSection], "app:main"), as [Parse] does.
func Load(path, section string) (*Settings, error) {
	l := &loader{}
	f, err := l.open(path, path)
	if err != nil {
		return nil, err
	}
	return l.settings(f, section)
}

// Parse reads an INI file from r with PasteDeploy semantics and returns
// the settings of section ("" means [DefaultSection], "app:main").
//
// name is the file's name: it appears in errors and positions, and its
// absolute form provides the %(here)s (directory) and %(__file__)s
// defaults. An empty name is shown as "<input>" and gives here = the
// working directory and __file__ = "".
//
// A "use = config:FILE#NAME" line in the section is followed as
// PasteDeploy follows it: FILE (relative to here) is read from disk and
// its [app:NAME] section's settings are inherited (see the package
// documentation).
//
// Parse reports syntax, duplicate, size and interpolation errors (all
// *[Error]); it does not check keys against Beaker's catalogue: call
// [Settings.Check] for that.
func Parse(name string, r io.Reader, section string) (*Settings, error) {
	label := name
	if label == "" {
		label = "<input>"
	}
	data, err := readCapped(label, r)
	if err != nil {
		return nil, err
	}
	here, abs := "", ""
	if name == "" {
		if wd, err := os.Getwd(); err == nil {
			here = wd
		}
	} else {
		abs = absPath(name)
		here = filepath.Dir(abs)
	}
	f, err := readINI(label, string(data))
	if err != nil {
		return nil, err
	}
	f.here, f.abs = here, abs
	return (&loader{}).settings(f, section)
}

func absPath(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	return abs
}

// readCapped reads r up to MaxFileSize bytes; more is an ErrTooLarge error.
func readCapped(label string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: label, Msg: "cannot read: " + err.Error(), Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: label, Msg: fmt.Sprintf("larger than %d bytes (8 MiB), the most a settings file may hold", MaxFileSize), Err: ErrTooLarge}
	}
	return data, nil
}

// loader reads one configuration: a file and the files its "use =
// config:" lines refer to.
type loader struct {
	files map[string]*iniFile // read so far, by absolute path
	chain []string            // "file [section]" of the contexts being read, outermost first
	keys  []string            // their identities (absolute path + section)
}

// open reads and parses the file at path, shown in errors as label.
func (l *loader) open(path, label string) (*iniFile, error) {
	abs := absPath(path)
	if f, ok := l.files[abs]; ok {
		return f, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: label, Msg: osMessage(err), Err: err}
	}
	defer fh.Close()
	data, err := readCapped(label, fh)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Err != ErrTooLarge {
			e.Msg = osMessage(e.Err)
		}
		return nil, err
	}
	f, err := readINI(label, string(data))
	if err != nil {
		return nil, err
	}
	f.here, f.abs = filepath.Dir(abs), abs
	if l.files == nil {
		l.files = map[string]*iniFile{}
	}
	l.files[abs] = f
	return f, nil
}

// osMessage words an I/O error without repeating the path.
func osMessage(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return "cannot " + pe.Op + ": " + pe.Err.Error()
	}
	return "cannot read: " + err.Error()
}

// splitLines splits s at "\n", "\r\n" and "\r" (Python's universal
// newlines).
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

func (f *iniFile) errorf(line int, key string, sentinel error, format string, args ...any) *Error {
	return &Error{File: f.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// readINI parses the file the way Python's configparser.ConfigParser does
// with PasteDeploy's options (strict, case-sensitive keys, "=" and ":"
// delimiters, "#" and ";" full-line comments, no inline comments, empty
// lines allowed inside multi-line values).
func readINI(file, text string) (*iniFile, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	f := &iniFile{
		file:     file,
		defaults: newSection(defaultName, 0),
		byName:   map[string]*iniSection{},
	}
	var (
		cur         *iniSection
		opt         *iniOption
		indentLevel int
	)
	for i, raw := range splitLines(text) {
		lineno := i + 1
		if len(raw) > MaxLineLength {
			return nil, f.errorf(lineno, "", ErrTooLarge, "line longer than %d bytes (64 KiB); split a long value over indented continuation lines", MaxLineLength)
		}
		value := strings.TrimSpace(raw)
		comment := strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";")
		if value == "" || comment {
			// An empty line may be part of a multi-line value (kept only
			// if a continuation line follows: trailing ones are trimmed
			// when the value is joined). Comments are skipped.
			if !comment && opt != nil {
				opt.parts = append(opt.parts, "")
			}
			continue
		}
		indent := utf8.RuneCountInString(raw[:strings.IndexFunc(raw, func(r rune) bool { return !unicode.IsSpace(r) })])
		if opt != nil && indent > indentLevel {
			opt.parts = append(opt.parts, value)
			continue
		}
		indentLevel = indent
		if strings.HasPrefix(value, "[") {
			if end := strings.LastIndexByte(value, ']'); end >= 2 {
				if end != len(value)-1 {
					return nil, f.errorf(lineno, "", ErrSyntax, "text after section header [%s]", value[1:end])
				}
				name := value[1:end]
				opt = nil
				if name == defaultName {
					cur = f.defaults
					continue
				}
				if prev, ok := f.byName[name]; ok {
					return nil, f.errorf(lineno, "", ErrDuplicate, "duplicate section [%s] (first on line %d)", name, prev.line)
				}
				cur = newSection(name, lineno)
				f.sections = append(f.sections, cur)
				f.byName[name] = cur
				continue
			}
		}
		if cur == nil {
			return nil, f.errorf(lineno, "", ErrSyntax, "line before the first [section] header")
		}
		d := strings.IndexAny(value, "=:")
		if d < 0 {
			return nil, f.errorf(lineno, "", ErrSyntax, "not a [section] header, \"key = value\" line, comment or indented continuation line")
		}
		name := strings.TrimRightFunc(value[:d], unicode.IsSpace)
		if name == "" {
			return nil, f.errorf(lineno, "", ErrSyntax, "empty key before %q", value[d:d+1])
		}
		if prev, ok := cur.index[name]; ok {
			return nil, f.errorf(lineno, name, ErrDuplicate, "duplicate key in [%s] (first set on line %d)", cur.name, prev.line)
		}
		opt = &iniOption{name: name, parts: []string{strings.TrimSpace(value[d+1:])}, line: lineno}
		cur.opts = append(cur.opts, opt)
		cur.index[name] = opt
	}
	join := func(s *iniSection) {
		for _, o := range s.opts {
			o.value = strings.TrimRightFunc(strings.Join(o.parts, "\n"), unicode.IsSpace)
			o.parts = nil
		}
	}
	join(f.defaults)
	for _, s := range f.sections {
		join(s)
	}
	return f, nil
}

// findSection finds the section PasteDeploy would use for name: the exact
// section, or for "app:NAME" any of "app:NAME" and "application:NAME"
// with blanks around NAME.
func (f *iniFile) findSection(name string) (*iniSection, error) {
	if s, ok := f.byName[name]; ok {
		return s, nil
	}
	var found []*iniSection
	if prefix, want, ok := strings.Cut(name, ":"); ok {
		want = strings.TrimSpace(want)
		prefixes := []string{prefix}
		if prefix == "app" || prefix == "application" {
			prefixes = []string{"app", "application"}
		}
		for _, s := range f.sections {
			for _, p := range prefixes {
				if rest, ok := strings.CutPrefix(s.name, p+":"); ok && strings.TrimSpace(rest) == want {
					found = append(found, s)
				}
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, s := range f.sections {
			names = append(names, "["+s.name+"]")
		}
		msg := fmt.Sprintf("no section [%s]", name)
		if len(names) == 0 {
			msg += "; the file has no sections"
		} else if hint := f.pipelineHint(name); hint != "" {
			msg += "; " + hint
		} else {
			msg += "; sections found: " + strings.Join(names, ", ")
		}
		return nil, &Error{File: f.file, Msg: msg, Err: ErrNoSection}
	default:
		var names []string
		for _, s := range found {
			names = append(names, fmt.Sprintf("[%s] (line %d)", s.name, s.line))
		}
		return nil, &Error{File: f.file, Msg: fmt.Sprintf("ambiguous section [%s]: %s", name, strings.Join(names, ", ")), Err: ErrNoSection}
	}
}

// pipelineHint points from a missing [app:NAME] to the application
// section that a [pipeline:NAME] section runs (its last name): Pyramid
// reads its settings there.
func (f *iniFile) pipelineHint(name string) string {
	prefix, want, _ := strings.Cut(name, ":")
	if prefix != "app" && prefix != "application" {
		return ""
	}
	want = strings.TrimSpace(want)
	for _, s := range f.sections {
		p, rest, ok := strings.Cut(s.name, ":")
		if !ok || strings.TrimSpace(p) != "pipeline" || strings.TrimSpace(rest) != want {
			continue
		}
		o, ok := s.index["pipeline"]
		fields := []string{}
		if ok {
			fields = strings.Fields(o.value)
		}
		if len(fields) == 0 {
			return fmt.Sprintf("[%s] (line %d) names no application", s.name, s.line)
		}
		app := fields[len(fields)-1]
		if scheme, _, ok := strings.Cut(app, ":"); ok && isScheme(scheme) {
			return fmt.Sprintf("[%s] (line %d) ends in %q, an application outside this file; read the section that holds its settings", s.name, s.line, app)
		}
		return fmt.Sprintf("[%s] (line %d) is a pipeline whose application is [app:%s]: the settings are there; read section \"app:%s\" (beaker check-config -section app:%s)", s.name, s.line, app, app, app)
	}
	return ""
}

// interpolator expands %(name)s references in one value as
// configparser.BasicInterpolation does.
type interpolator struct {
	lookup     func(string) (string, bool)
	expansions int
	file       *iniFile
	out        strings.Builder
}

// interpError is an interpolation failure, located by the caller.
type interpError struct{ msg string }

func (e *interpError) Error() string { return e.msg }

func (in *interpolator) expand(rest string, depth int, secret bool) error {
	if depth > maxDepth {
		return &interpError{fmt.Sprintf("more than %d levels of %%(name)s references (a reference loop?)", maxDepth)}
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			in.out.WriteString(rest)
			break
		}
		in.out.WriteString(rest[:p])
		rest = rest[p:]
		if in.out.Len() > maxValueLen {
			return &interpError{fmt.Sprintf("interpolated value longer than %d bytes", maxValueLen)}
		}
		switch {
		case strings.HasPrefix(rest, "%%"):
			in.out.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end <= 2 || !strings.HasPrefix(rest[end+1:], "s") {
				return &interpError{"bad %(name)s reference" + showRest(rest, secret) + " (write %% for a literal %)"}
			}
			name := rest[2:end]
			rest = rest[end+2:]
			v, ok := in.lookup(name)
			if !ok {
				return &interpError{fmt.Sprintf("%%(%s)s refers to %q, which is not defined in this section or [DEFAULT]", name, name)}
			}
			in.expansions++
			in.file.expansions++
			if in.expansions > maxExpansions || in.file.expansions > maxFileExpansions {
				return &interpError{fmt.Sprintf("too many %%(name)s references to expand (limits: %d per value, %d per file)", maxExpansions, maxFileExpansions)}
			}
			if strings.Contains(v, "%") {
				if err := in.expand(v, depth+1, secret); err != nil {
					return err
				}
			} else {
				in.out.WriteString(v)
			}
		default:
			return &interpError{"'%' must be followed by '%' or '('" + showRest(rest, secret) + " (write %% for a literal %)"}
		}
	}
	if in.out.Len() > maxValueLen {
		return &interpError{fmt.Sprintf("interpolated value longer than %d bytes", maxValueLen)}
	}
	return nil
}

// showRest quotes the start of the text at a bad '%' for error messages,
// unless the value is secret.
func showRest(rest string, secret bool) string {
	if secret {
		return ""
	}
	return ", found: " + quoteShort(rest)
}

// interpolate expands raw with lookup; errors are located at opt.
func (f *iniFile) interpolate(raw string, opt *iniOption, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(raw, "%") {
		return raw, nil
	}
	in := &interpolator{lookup: lookup, file: f}
	if err := in.expand(raw, 1, isSecretKey(opt.name)); err != nil {
		return "", f.errorf(opt.line, opt.name, ErrInterpolation, "%s", err.Error())
	}
	f.produced += in.out.Len()
	if f.produced > maxFileBytes {
		return "", f.errorf(opt.line, opt.name, ErrInterpolation, "interpolated values of the file longer than %d bytes in all", maxFileBytes)
	}
	return in.out.String(), nil
}

// settings resolves the named section of f (and the files its "use =
// config:" lines refer to) as PasteDeploy's loader does and builds the
// Settings from it.
func (l *loader) settings(f *iniFile, name string) (*Settings, error) {
	if name == "" {
		name = DefaultSection
	}
	b, err := l.context(f, name, nil)
	if err != nil {
		return nil, err
	}
	b.s.file = f.file
	return b.s, nil
}

// context reads the application settings of section name of f, as
// PasteDeploy's ConfigLoader.get_context does: outer is the global_conf of
// the section whose "use = config:" line led here (nil for the file
// given to Load or Parse). Its [DEFAULT] values fill the gaps of f's
// defaults (PasteDeploy's update_defaults(overwrite=False)) and override
// them for "get" lines.
func (l *loader) context(f *iniFile, name string, outer map[string]string) (*builder, error) {
	sect, err := f.findSection(name)
	if err != nil {
		return nil, err
	}
	l.keys = append(l.keys, contextID(f, sect))
	l.chain = append(l.chain, fmt.Sprintf("%s [%s]", f.file, sect.name))
	defer func() { l.keys, l.chain = l.keys[:len(l.keys)-1], l.chain[:len(l.chain)-1] }()

	// Raw defaults: here and __file__, overridden by [DEFAULT], then the
	// referring file's globals where f defines nothing.
	rawDefaults := map[string]string{"here": f.here, "__file__": f.abs}
	for _, o := range f.defaults.opts {
		rawDefaults[o.name] = o.value
	}
	for k, v := range outer {
		if _, ok := rawDefaults[k]; !ok {
			rawDefaults[k] = strings.ReplaceAll(v, "%", "%%") // already interpolated
		}
	}
	lookupDefaults := func(k string) (string, bool) {
		v, ok := rawDefaults[k]
		return v, ok
	}
	lookupSection := func(k string) (string, bool) {
		if o, ok := sect.index[k]; ok {
			return o.value, true
		}
		v, ok := rawDefaults[k]
		return v, ok
	}
	// PasteDeploy's global_conf: the interpolated defaults, the referring
	// section's globals over them, plus "set" lines.
	global := map[string]string{"here": f.here, "__file__": f.abs}
	for _, o := range f.defaults.opts {
		v, err := f.interpolate(o.value, o, lookupDefaults)
		if err != nil {
			return nil, err
		}
		global[o.name] = v
	}
	for k, v := range outer {
		global[k] = v
	}

	b := newBuilder(f.file, f.here)
	type getLine struct {
		local, global string
		opt           *iniOption
	}
	var (
		gets []getLine
		use  *iniOption
		useV string
	)
	for _, o := range sect.opts {
		switch {
		case strings.HasPrefix(o.name, "set "):
			v, err := f.interpolate(o.value, o, lookupSection)
			if err != nil {
				return nil, err
			}
			global[strings.TrimSpace(o.name[4:])] = v
		case strings.HasPrefix(o.name, "get "):
			v, err := f.interpolate(o.value, o, lookupSection)
			if err != nil {
				return nil, err
			}
			gets = append(gets, getLine{strings.TrimSpace(o.name[4:]), v, o})
		default:
			if _, ok := rawDefaults[o.name]; ok {
				// PasteDeploy skips a key that [DEFAULT] also defines.
				if _, keep := canonical(o.name); keep {
					b.s.notes = append(b.s.notes, note{file: f.file, key: o.name, line: o.line,
						msg: "key ignored: [DEFAULT] also defines it, and PasteDeploy then leaves it out of the application settings"})
				}
				continue
			}
			v, err := f.interpolate(o.value, o, lookupSection)
			if err != nil {
				return nil, err
			}
			if o.name == "use" {
				use, useV = o, v
				continue
			}
			if err := b.add(o.name, v, o.line); err != nil {
				return nil, err
			}
		}
	}
	fetched := map[string]bool{}
	for _, g := range gets {
		v, ok := global[g.global]
		if !ok {
			return nil, f.errorf(g.opt.line, g.opt.name, ErrInterpolation,
				"%q is not defined in [DEFAULT] or by a \"set\" line", g.global)
		}
		fetched[g.global] = true
		if g.local == "use" {
			use, useV = g.opt, v
			continue
		}
		if err := b.add(g.local, v, g.opt.line); err != nil {
			return nil, err
		}
	}
	// Beaker keys that only [DEFAULT] defines never reach the application.
	for _, o := range f.defaults.opts {
		if _, keep := canonical(o.name); keep && !fetched[o.name] {
			if _, inSect := sect.index[o.name]; !inSect {
				b.s.notes = append(b.s.notes, note{file: f.file, key: o.name, line: o.line,
					msg: fmt.Sprintf("key in [DEFAULT] is not an application setting (PasteDeploy passes [DEFAULT] as global_conf); add \"get %s = %s\" to [%s] to use it", o.name, o.name, sect.name)})
			}
		}
	}
	sort.SliceStable(b.s.notes, func(i, j int) bool { return b.s.notes[i].line < b.s.notes[j].line })
	if use != nil {
		if err := l.inherit(f, use, useV, global, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// inherit follows the "use" line of a section whose settings b holds: a
// "config:FILE[#NAME]" reference (FILE relative to f's directory, NAME
// "main" if left out) or a bare NAME (a section of f) names an [app:NAME]
// section whose settings b inherits, b's own values winning. Other
// references (egg:, call:, package:) name the application's code, not
// settings, and are left alone.
func (l *loader) inherit(f *iniFile, use *iniOption, ref string, global map[string]string, b *builder) error {
	ref = strings.TrimSpace(ref)
	scheme, rest, hasScheme := strings.Cut(ref, ":")
	if hasScheme && !isScheme(scheme) {
		hasScheme = false
	}
	target := f
	var section string
	switch {
	case hasScheme && scheme == "config":
		path, name, _ := strings.Cut(rest, "#")
		path, name = strings.TrimSpace(path), strings.TrimSpace(name)
		if path == "" {
			return f.errorf(use.line, use.name, ErrUse, "%q names no file (want config:FILE or config:FILE#NAME)", ref)
		}
		if name == "" {
			name = "main"
		}
		section = "app:" + name
		label, full := path, path
		if !filepath.IsAbs(path) {
			full = filepath.Join(f.here, path)
			label = filepath.Join(filepath.Dir(f.file), path)
			if f.file == "<input>" {
				label = path
			}
		}
		t, err := l.open(full, label)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Line == 0 && e.Err != ErrTooLarge {
				return &Error{File: f.file, Line: use.line, Key: use.name,
					Msg: fmt.Sprintf("%s: %s", label, e.Msg), Err: fmt.Errorf("%w: %w", ErrUse, e.Err)}
			}
			return err
		}
		target = t
	case hasScheme:
		return nil // egg:, call:, package:...: the application itself
	default:
		if ref == "" {
			return f.errorf(use.line, use.name, ErrUse, "empty reference")
		}
		section = "app:" + ref
	}
	if len(l.chain) >= maxUseDepth {
		return f.errorf(use.line, use.name, ErrUse, "more than %d sections chained by \"use\" lines", maxUseDepth)
	}
	sect, err := target.findSection(section)
	if err != nil {
		e := err.(*Error)
		msg := e.Msg
		if target != f {
			msg = target.file + ": " + msg
		}
		return &Error{File: f.file, Line: use.line, Key: use.name, Msg: msg, Err: e.Err}
	}
	id := contextID(target, sect)
	for i, k := range l.keys {
		if k == id {
			return f.errorf(use.line, use.name, ErrUse, "%q closes a cycle: %s -> %s [%s]",
				ref, strings.Join(l.chain[i:], " -> "), target.file, sect.name)
		}
	}
	inherited, err := l.context(target, section, global)
	if err != nil {
		return err
	}
	// The referring section's values override the inherited ones
	// (PasteDeploy: context.local_conf.update(local_conf)), key by key,
	// whatever their "beaker." spelling.
	for c, e := range inherited.s.entries {
		if _, own := b.s.entries[c]; !own {
			b.s.entries[c] = e
		}
	}
	b.s.notes = append(b.s.notes, inherited.s.notes...)
	return nil
}

// contextID identifies a section of a file for cycle detection.
func contextID(f *iniFile, sect *iniSection) string {
	if f.abs == "" {
		return fmt.Sprintf("%p\x00%s", f, sect.name) // unnamed input
	}
	return f.abs + "\x00" + sect.name
}

// isScheme reports whether s is a PasteDeploy URI scheme ("[a-zA-Z]+").
func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
