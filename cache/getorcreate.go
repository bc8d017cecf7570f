package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// ErrCreatorPanic is wrapped by the error that callers of GetOrCreate get
// when the creator panicked; a panic with an error wraps that error too.
// The panic is logged with its stack.
var ErrCreatorPanic = errors.New("cache: creator panicked")

// GetOrCreate returns the value of key in r, calling creator to make it
// when needed, following dogpile's state machine:
//
//   - fresh: returned at once.
//   - missing, hard-invalidated or undecodable: one creator runs (one per
//     key in this process and, when r's store implements store.Locker, one
//     across every process sharing the store); every caller waits for its
//     result.
//   - stale (expired within the grace period, or soft-invalidated): one
//     caller regenerates it and waits; every other caller is served the
//     stale value at once.
//
// A creator error caches nothing and goes, wrapped, to every caller waiting
// for that run. A caller whose ctx is done stops waiting and gets ctx's
// error; the creator goes on for the others, with a context (carrying the
// first caller's values) that is cancelled only when every caller waiting
// for it has gone, or the Manager is closed.
//
// Backend failures do not fail the call: they are logged and treated as a
// miss (a failed read) or leave the value uncached (a failed write), so a
// cache outage degrades to calling creator. On a disabled region creator
// is called every time.
//
// A plain memory region returns the very value creator returned, to every
// caller: do not modify it. A remote or RoundTrip region gives every caller
// its own copy, decoded from the stored encoding, the callers that waited
// for the creator included (see "Values" in the package documentation).
// Pass a creator built once (a method value or a
// function) rather than a new closure per call to keep hits free of
// allocations.
func GetOrCreate[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error)) (T, error) {
	if l := r.local; l != nil {
		if e := l.get(key); e != nil && r.isFresh(e.created, r.m.now()) {
			if v, ok := e.value.(T); ok {
				r.hits.add()
				return v, nil
			}
		}
	}
	return getOrCreate(ctx, r, key, creator)
}

// flight is one run of a creator for a key, shared by the callers waiting
// for it.
type flight struct {
	done   chan struct{}
	cancel context.CancelFunc

	// Guarded by its Region's flightShard of the key.
	waiters  int
	finished bool

	// Set before done is closed.
	val any    // the value, when ok
	enc []byte // its encoding, when the region encodes and stored it
	ok  bool   // false: a stale run that left regeneration to another process
	err error  // the creator's error, wrapped
}

func getOrCreate[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error)) (T, error) {
	var zero T
	if r.disabled {
		return callThrough(ctx, r, key, creator)
	}
	counted := false // the call has added to one of the read counters
	for {
		seq := r.seq.Load() // the runs ended so far, read before the value
		v, st, err := lookup[T](ctx, r, key)
		down := false // this read failed
		if err != nil {
			if ctx.Err() != nil {
				r.countOnce(&counted, &r.misses) // found no value it could use
				return zero, err
			}
			r.warn("cache: backend read failed; treating it as a miss", err)
			st, down = missing, true
		}
		if st == fresh {
			if !counted {
				r.hits.add()
			}
			return v, nil
		}

		fs := r.flightShard(key)
		fs.mu.Lock()
		f := fs.m[key]
		switch {
		case f == nil:
			// A run that ended since our read (counted under this
			// lock, as it left the map) may have stored the value: then
			// the new run reads again before it creates, once, so that
			// the key's creator runs once however many runs end
			// meanwhile (a caller that looked again itself, once, could
			// have that look spent by another key's run). Not after a
			// failed read: an outage costs one failed read a call.
			recheck := r.seq.Load() != seq && !down
			if f, err = startFlight(ctx, r, fs, key, st == stale, down, recheck, creator); err != nil {
				fs.mu.Unlock()
				if st == stale {
					r.countOnce(&counted, &r.staleServed)
					return v, nil // closed: no regeneration, but the stale value is better than nothing
				}
				r.countOnce(&counted, &r.misses)
				return zero, fmt.Errorf("cache: region %q: %q: %w", r.name, key, err)
			}
		case st == stale:
			fs.mu.Unlock()
			r.countOnce(&counted, &r.staleServed)
			return v, nil
		default:
			r.lockWaits.Add(1)
		}
		f.waiters++
		fs.mu.Unlock()
		if st == missing {
			r.countOnce(&counted, &r.misses) // when it waits for a creator
		}

		err = f.wait(ctx)
		if st == stale && (err != nil || f.err != nil || f.ok) {
			// This call started the regeneration of a stale value and
			// waited for it: it served no stale value, so it counts as
			// a miss (a run that left the regeneration to another
			// process serves the stale value, counted below).
			r.countOnce(&counted, &r.misses)
		}
		if err != nil {
			r.leave(key, f)
			return zero, fmt.Errorf("cache: region %q: waiting for %q: %w", r.name, key, err)
		}
		if f.err != nil {
			return zero, f.err
		}
		if !f.ok {
			if st == stale {
				r.countOnce(&counted, &r.staleServed)
				return v, nil
			}
			continue // we have nothing to serve: look again, and wait this time
		}
		tv, ok := flightValue[T](f)
		if !ok {
			return zero, fmt.Errorf("cache: region %q: %q: a concurrent call created a %T, not a %T", r.name, key, f.val, zero)
		}
		return tv, nil
	}
}

// countOnce adds to c unless the call already added to a read counter
// (*counted): every call adds to exactly one of hits, misses and
// staleServed, however many times it looks.
func (r *Region) countOnce(counted *bool, c *striped) {
	if !*counted {
		c.add()
		*counted = true
	}
}

// wait waits until f is done, or ctx is; it returns ctx's error then. A
// context that is never done (context.Background) waits on f.done alone,
// which costs a thousand waiters far less than a select.
func (f *flight) wait(ctx context.Context) error {
	d := ctx.Done()
	if d == nil {
		<-f.done
		return nil
	}
	select {
	case <-f.done:
		return nil
	case <-d:
		return ctx.Err()
	}
}

// warn logs a backend failure of r.
func (r *Region) warn(msg string, err error) {
	r.m.log.Warn(msg, slog.String("region", r.name), slog.Any("err", err))
}

// flightValue returns the value of a finished run as a T: a copy decoded
// from its encoding when there is one, else the value itself, converted
// through the codec if it is not a T.
func flightValue[T any](f *flight) (T, bool) {
	if f.enc == nil {
		if v, ok := f.val.(T); ok {
			return v, true
		}
	}
	return decodeAs[T](f.enc, f.val)
}

// leave removes a waiter that gave up; the last one to leave cancels the
// creator's context.
func (r *Region) leave(key string, f *flight) {
	fs := r.flightShard(key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && !f.finished {
		f.cancel()
		if fs.m[key] == f {
			delete(fs.m, key) // the next caller starts afresh
		}
	}
}

// startFlight registers and starts a creator run for key in fs, key's
// shard of r's runs, whose lock is held.
// down says that the backend just failed a read: the run then goes
// straight to the creator, without the cross-process lock, a second read or
// a write, so that an outage costs one failed read, not one per step.
// recheck says that a run ended since the caller's read: the run reads the
// value again before it calls the creator.
func startFlight[T any](ctx context.Context, r *Region, fs *flightShard, key string, stale, down, recheck bool, creator func(context.Context) (T, error)) (*flight, error) {
	if err := r.m.startRun(); err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(r.m.closeCtx, cancel)
	f := &flight{done: make(chan struct{}), cancel: func() { stop(); cancel() }}
	if fs.m == nil {
		fs.m = make(map[string]*flight)
	}
	fs.m[key] = f
	go runFlight(fctx, r, f, key, stale, down, recheck, creator)
	return f, nil
}

func runFlight[T any](ctx context.Context, r *Region, f *flight, key string, stale, down, recheck bool, creator func(context.Context) (T, error)) {
	defer r.m.wg.Done()
	var (
		val    any
		enc    []byte
		ok     bool
		err    error
		exited = true // until create returns: a runtime.Goexit in the creator
	)
	// Deferred, so that the waiters learn of a run that ended in a
	// runtime.Goexit (which recover does not see) instead of waiting for
	// ever.
	defer func() {
		if exited {
			r.creatorErrors.Add(1)
			err = fmt.Errorf("cache: region %q: creating %q: the run ended without returning (the creator called runtime.Goexit, or a panic outside it)", r.name, key)
		}
		r.finish(key, f, val, enc, ok, err)
	}()
	val, enc, ok, err = r.create(ctx, key, stale, down, func(ctx context.Context) (any, int64, bool, error) {
		if recheck || r.local == nil && r.locker != nil && !down {
			// A run of this process, or (under the cross-process lock)
			// of another, may have stored the value since the caller
			// read it.
			if v, st, err := lookup[T](ctx, r, key); err == nil && st == fresh {
				return v, 0, false, nil
			}
		}
		created := r.stamp()
		v, err := callCreator(ctx, r, key, creator)
		return v, created, true, err
	})
	exited = false
}

// finish records the outcome of f, key's run, and wakes its waiters.
func (r *Region) finish(key string, f *flight, val any, enc []byte, ok bool, err error) {
	fs := r.flightShard(key)
	fs.mu.Lock()
	f.val, f.enc, f.ok, f.err = val, enc, ok, err
	f.finished = true
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	r.seq.Add(1)
	fs.mu.Unlock()
	f.cancel()
	close(f.done)
}

// create runs produce under the cross-process lock when the region has one,
// and stores a value that produce created; enc is the value's encoding when
// the region encodes and stored it. For a stale value it only tries the
// lock: ok=false means another process holds it and is regenerating.
func (r *Region) create(ctx context.Context, key string, stale, down bool, produce func(context.Context) (v any, created int64, isNew bool, err error)) (v any, enc []byte, ok bool, err error) {
	if r.local == nil && r.locker != nil && !down {
		lk := r.storeKey(key)
		lease, got, err := r.locker.TryLock(ctx, lk, r.lease)
		if err == nil && !got {
			if stale {
				return nil, nil, false, nil
			}
			r.lockWaits.Add(1)
			lease, err = r.locker.Lock(ctx, lk, r.lease)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, nil, false, fmt.Errorf("cache: region %q: locking %q: %w", r.name, key, err)
		case err != nil:
			r.m.log.Warn("cache: creation lock failed; creating without it",
				slog.String("region", r.name), slog.Any("err", err))
		default:
			defer func() {
				if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
					r.m.log.Warn("cache: releasing the creation lock failed",
						slog.String("region", r.name), slog.Any("err", err))
				}
			}()
		}
	}
	v, created, isNew, err := produce(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	if !isNew && r.encode {
		enc, _ = json.Marshal(v) // found in the store: each waiter gets its own copy
	}
	if isNew && down && r.encode {
		// Not stored: the backend is down. A value that does not encode
		// is handed to the waiters as is, as when its write fails.
		if enc, err = json.Marshal(v); err != nil {
			r.m.log.Warn("cache: a created value does not encode",
				slog.String("region", r.name), slog.Any("err", err))
		}
	}
	if isNew && !down {
		if enc, err = r.write(context.WithoutCancel(ctx), key, v, created); err != nil {
			r.m.log.Warn("cache: storing a created value failed",
				slog.String("region", r.name), slog.Any("err", err))
		}
	}
	return v, enc, true, nil
}

// callCreator runs creator, counting it and turning a panic into an error.
func callCreator[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error)) (v any, err error) {
	r.creatorRuns.add()
	defer func() {
		if p := recover(); p != nil {
			r.m.log.Error("cache: creator panicked", slog.String("region", r.name),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			if pe, ok := p.(error); ok {
				err = fmt.Errorf("cache: region %q: creating %q: %w: %w", r.name, key, ErrCreatorPanic, pe)
			} else {
				err = fmt.Errorf("cache: region %q: creating %q: %w: %v", r.name, key, ErrCreatorPanic, p)
			}
		}
		if err != nil {
			r.creatorErrors.Add(1)
		}
	}()
	tv, err := creator(ctx)
	if err != nil {
		return nil, fmt.Errorf("cache: region %q: creating %q: %w", r.name, key, err)
	}
	return tv, nil
}

// callThrough serves a disabled region: the creator runs every time.
func callThrough[T any](ctx context.Context, r *Region, key string, creator func(context.Context) (T, error)) (T, error) {
	v, err := callCreator(ctx, r, key, creator)
	if err != nil {
		var zero T
		return zero, err
	}
	tv, _ := v.(T) // a nil interface value is the zero T, not a failed assertion
	return tv, nil
}
