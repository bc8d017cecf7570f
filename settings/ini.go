package settings

import (
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
	file     string
	defaults *iniSection
	sections []*iniSection
	byName   map[string]*iniSection

	// interpolation work done so far, bounded by maxFile*.
	expansions, produced int
}

// Load reads the INI file at path and returns the settings of section
// ("" means [DefaultSection], "app:main"), as [Parse] does.
func Load(path, section string) (*Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := err.(*os.PathError); ok {
			msg = "cannot " + pe.Op + ": " + pe.Err.Error()
		}
		return nil, &Error{File: path, Msg: msg, Err: err}
	}
	return parseBytes(path, data, section)
}

// Parse reads an INI file from r with PasteDeploy semantics and returns
// the settings of section ("" means [DefaultSection], "app:main").
//
// name is the file's name: it appears in errors and positions, and its
// absolute form provides the %(here)s (directory) and %(__file__)s
// defaults. An empty name is shown as "<input>" and gives here = the
// working directory and __file__ = "".
//
// Parse reports syntax, duplicate and interpolation errors (all
// *[Error]); it does not check keys against Beaker's catalogue: call
// [Settings.Check] for that.
func Parse(name string, r io.Reader, section string) (*Settings, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		label := name
		if label == "" {
			label = "<input>"
		}
		return nil, &Error{File: label, Msg: "cannot read: " + err.Error(), Err: err}
	}
	return parseBytes(name, data, section)
}

func parseBytes(name string, data []byte, section string) (*Settings, error) {
	label, here, file := name, "", ""
	if name == "" {
		label = "<input>"
		if wd, err := os.Getwd(); err == nil {
			here = wd
		}
	} else {
		abs, err := filepath.Abs(name)
		if err != nil {
			abs = name
		}
		here, file = filepath.Dir(abs), abs
	}
	if section == "" {
		section = DefaultSection
	}
	f, err := readINI(label, string(data))
	if err != nil {
		return nil, err
	}
	return f.settings(section, here, file)
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

// settings resolves the named section as PasteDeploy's
// ConfigLoader.get_context does and builds the Settings from it.
func (f *iniFile) settings(name, here, file string) (*Settings, error) {
	sect, err := f.findSection(name)
	if err != nil {
		return nil, err
	}
	// Raw defaults: here and __file__, overridden by [DEFAULT].
	rawDefaults := map[string]string{"here": here, "__file__": file}
	for _, o := range f.defaults.opts {
		rawDefaults[o.name] = o.value
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
	// PasteDeploy's global_conf: the interpolated defaults plus "set" lines.
	global := map[string]string{"here": here, "__file__": file}
	for _, o := range f.defaults.opts {
		v, err := f.interpolate(o.value, o, lookupDefaults)
		if err != nil {
			return nil, err
		}
		global[o.name] = v
	}

	b := newBuilder(f.file)
	type getLine struct {
		local, global string
		opt           *iniOption
	}
	var gets []getLine
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
					b.s.notes = append(b.s.notes, note{key: o.name, line: o.line,
						msg: "key ignored: [DEFAULT] also defines it, and PasteDeploy then leaves it out of the application settings"})
				}
				continue
			}
			v, err := f.interpolate(o.value, o, lookupSection)
			if err != nil {
				return nil, err
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
		if err := b.add(g.local, v, g.opt.line); err != nil {
			return nil, err
		}
	}
	// Beaker keys that only [DEFAULT] defines never reach the application.
	for _, o := range f.defaults.opts {
		if _, keep := canonical(o.name); keep && !fetched[o.name] {
			if _, inSect := sect.index[o.name]; !inSect {
				b.s.notes = append(b.s.notes, note{key: o.name, line: o.line,
					msg: fmt.Sprintf("key in [DEFAULT] is not an application setting (PasteDeploy passes [DEFAULT] as global_conf); add \"get %s = %s\" to [%s] to use it", o.name, o.name, sect.name)})
			}
		}
	}
	sort.SliceStable(b.s.notes, func(i, j int) bool { return b.s.notes[i].line < b.s.notes[j].line })
	return b.s, nil
}
