package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Memo1 is a function of one argument whose results are cached in a
// region, like Beaker's @cache_region or dogpile's cache_on_arguments.
// Create it with Memoize1.
type Memo1[A, T any] struct {
	r    *Region
	name string
	fn   func(context.Context, A) (T, error)
}

// Memoize1 wraps fn so that its results are cached in r, under keys made of
// name and the JSON encoding of the argument: name + ":" + `[a]`. The
// encoding keeps distinct arguments apart ("a b" is not "a","b"), provided
// that A's JSON form identifies it (unexported struct fields are not
// encoded). An argument holding a string that is not valid UTF-8, which
// JSON cannot keep apart from other such strings, is not cached: Get and
// Refresh call fn every time, as a disabled region does (a panic is still
// ErrCreatorPanic), Invalidate has nothing to remove, and Key fails
// (ErrUncacheableArgs). name must be unique in the region.
func Memoize1[A, T any](r *Region, name string, fn func(context.Context, A) (T, error)) *Memo1[A, T] {
	return &Memo1[A, T]{r: r, name: name, fn: fn}
}

// Get returns fn(a), from the cache when it holds it (see GetOrCreate).
func (m *Memo1[A, T]) Get(ctx context.Context, a A) (T, error) {
	key, err := memoKey(m.name, a)
	if errors.Is(err, ErrUncacheableArgs) {
		return callThrough(ctx, m.r, m.name, func(ctx context.Context) (T, error) { return m.fn(ctx, a) })
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return GetOrCreate(ctx, m.r, key, func(ctx context.Context) (T, error) { return m.fn(ctx, a) })
}

// Invalidate removes the cached result of fn(a).
func (m *Memo1[A, T]) Invalidate(ctx context.Context, a A) error {
	key, err := memoKey(m.name, a)
	if errors.Is(err, ErrUncacheableArgs) {
		return nil // never cached
	}
	if err != nil {
		return err
	}
	return m.r.Delete(ctx, key)
}

// Refresh calls fn(a) now, stores its result and returns it (on a remote or
// RoundTrip region, a copy decoded from what was stored).
func (m *Memo1[A, T]) Refresh(ctx context.Context, a A) (T, error) {
	key, err := memoKey(m.name, a)
	if errors.Is(err, ErrUncacheableArgs) {
		return callThrough(ctx, m.r, m.name, func(ctx context.Context) (T, error) { return m.fn(ctx, a) })
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return refresh(ctx, m.r, key, func(ctx context.Context) (T, error) { return m.fn(ctx, a) })
}

// Key returns the region key under which fn(a) is cached (before the
// region's prefix and hashing).
func (m *Memo1[A, T]) Key(a A) (string, error) { return memoKey(m.name, a) }

// Memo2 is a function of two arguments whose results are cached in a
// region. Create it with Memoize2.
type Memo2[A, B, T any] struct {
	r    *Region
	name string
	fn   func(context.Context, A, B) (T, error)
}

// Memoize2 is Memoize1 for a function of two arguments; the key is name +
// ":" + `[a,b]` in JSON.
func Memoize2[A, B, T any](r *Region, name string, fn func(context.Context, A, B) (T, error)) *Memo2[A, B, T] {
	return &Memo2[A, B, T]{r: r, name: name, fn: fn}
}

// Get returns fn(a, b), from the cache when it holds it (see GetOrCreate).
func (m *Memo2[A, B, T]) Get(ctx context.Context, a A, b B) (T, error) {
	key, err := memoKey(m.name, a, b)
	if errors.Is(err, ErrUncacheableArgs) {
		return callThrough(ctx, m.r, m.name, func(ctx context.Context) (T, error) { return m.fn(ctx, a, b) })
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return GetOrCreate(ctx, m.r, key, func(ctx context.Context) (T, error) { return m.fn(ctx, a, b) })
}

// Invalidate removes the cached result of fn(a, b).
func (m *Memo2[A, B, T]) Invalidate(ctx context.Context, a A, b B) error {
	key, err := memoKey(m.name, a, b)
	if errors.Is(err, ErrUncacheableArgs) {
		return nil // never cached
	}
	if err != nil {
		return err
	}
	return m.r.Delete(ctx, key)
}

// Refresh calls fn(a, b) now, stores its result and returns it (on a
// remote or RoundTrip region, a copy decoded from what was stored).
func (m *Memo2[A, B, T]) Refresh(ctx context.Context, a A, b B) (T, error) {
	key, err := memoKey(m.name, a, b)
	if errors.Is(err, ErrUncacheableArgs) {
		return callThrough(ctx, m.r, m.name, func(ctx context.Context) (T, error) { return m.fn(ctx, a, b) })
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return refresh(ctx, m.r, key, func(ctx context.Context) (T, error) { return m.fn(ctx, a, b) })
}

// Key returns the region key under which fn(a, b) is cached (before the
// region's prefix and hashing).
func (m *Memo2[A, B, T]) Key(a A, b B) (string, error) { return memoKey(m.name, a, b) }

func memoKey(name string, args ...any) (string, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return "", fmt.Errorf("cache: memoized %q: encoding arguments: %w", name, err)
	}
	if replacedInvalidUTF8(b) {
		return "", fmt.Errorf("cache: memoized %q: %w", name, ErrUncacheableArgs)
	}
	return name + ":" + string(b), nil
}

// ErrUncacheableArgs is wrapped by the error of a memoized function's Key
// when the arguments hold a string that is not valid UTF-8: JSON would
// give it the key of every other such string, so such calls are not
// cached.
var ErrUncacheableArgs = errors.New("cache: an argument holds a string that is not valid UTF-8, so it has no key of its own; such calls are not cached")

// replacedInvalidUTF8 reports whether b, encoded by encoding/json, holds the
// escape \ufffd that it writes in place of each byte that is not UTF-8 (a
// valid U+FFFD is written as is, a backslash as \\).
func replacedInvalidUTF8(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 == len(b) {
			return false
		}
		if bytes.HasPrefix(b[i+1:], []byte("ufffd")) {
			return true
		}
		b = b[i+2:] // past the escaped character
	}
}

// refresh runs creator and stores its value, whatever the cache holds.
func refresh[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error)) (T, error) {
	var zero T
	if !r.disabled {
		if err := r.ready(ctx); err != nil {
			return zero, err
		}
	}
	created := r.stamp()
	v, err := callCreator(ctx, r, key, creator)
	if err != nil {
		return zero, err
	}
	tv, _ := v.(T) // a nil interface value is the zero T, not a failed assertion
	if !r.disabled {
		enc, err := r.write(ctx, key, v, created)
		if err != nil {
			return tv, err
		}
		if enc != nil { // the caller gets a copy, as a hit would give
			if cv, ok := decodeAs[T](enc, nil); ok {
				return cv, nil
			}
		}
	}
	return tv, nil
}
