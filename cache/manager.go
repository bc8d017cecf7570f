package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobeaker/beaker/store"
)

// Options configures a Manager. The zero value is a Manager without
// regions.
type Options struct {
	// Regions lists the regions (INI cache.regions, in that order), each
	// with its settings. Names must be unique.
	Regions []RegionOptions

	// Logger receives backend failures that a region works around (logged
	// at warning level) and generation records found missing (no INI key).
	// The default is slog.Default().
	Logger *slog.Logger

	// Now returns the current time (no INI key). The default is time.Now,
	// read through a coarse clock (see the package documentation); tests
	// inject a fake clock, which is then called on every read.
	Now func() time.Time
}

// RegionOptions configures one region. Only Name is required; the zero
// value of every other field selects its default. Each field names the
// Beaker INI key it comes from, as cache.<key> for every region or
// cache.<region>.<key> for one.
type RegionOptions struct {
	// Name is the region's name (an entry of INI cache.regions).
	Name string

	// Store is the backend (INI type, with url, data_dir and lock_dir
	// configuring it). nil makes a memory region (type = memory): values
	// stay decoded in this process, see the package documentation. A
	// store.Store that also implements store.Locker gives cross-process
	// creation locks; without it, creators are deduplicated in-process only.
	Store store.Store

	// Expire is how long a value stays fresh after it was created (INI
	// expire, in seconds). The default, 0, is never: values then go stale
	// only through a soft invalidation.
	Expire time.Duration

	// Disabled turns the region off (INI enabled = false): GetOrCreate and
	// memoized functions call their creator every time, Get misses and Set
	// and Delete do nothing. The default is enabled.
	Disabled bool

	// KeyLength is the longest backend key (prefix included) stored as is;
	// a longer key is replaced by prefix + the SHA-256 hex of the key (INI
	// key_length), as is a key of 64 lowercase hex digits, which could
	// otherwise be taken for the hash of another. The default is 250,
	// memcached's limit. Memory regions keep their keys as they are.
	KeyLength int

	// Prefix is prepended to every key the region writes to its Store (no
	// INI key). The default is "cache:<Name>:". New refuses two regions
	// with stores whose prefixes overlap ("a" and "a:b"): a key of one
	// would be a key of the other.
	Prefix string

	// Grace is how long a stale value stays in the backend after it
	// expired, so that it can be served while one caller regenerates it:
	// the physical TTL is Expire+Grace (no INI key). The default is Expire/2,
	// at most one hour; a negative Grace keeps no stale values. It is unused
	// when Expire is 0 (values are then kept without TTL).
	Grace time.Duration

	// LockLease is the lease of the cross-process creation lock, which the
	// store renews while the creator runs and which frees itself this long
	// after a holder died (no INI key). The default is 30 seconds.
	LockLease time.Duration

	// GenerationInterval is how often a region with a Store re-reads its
	// invalidation record from the backend, so an Invalidate in another
	// process takes effect here within this interval (no INI key). The
	// default is one second.
	GenerationInterval time.Duration

	// RoundTrip makes a memory region keep every value as its codec
	// encoding (JSON) and decode a fresh copy on every read, as a region
	// with a Store does: the values then behave exactly as they will on
	// Redis or memcached (unexported fields dropped, a copy per caller), for
	// tests and development. It is dogpile's memory_pickle backend (INI
	// round_trip = true, a beaker-go addition). The default, false, keeps
	// the Go values themselves (dogpile's memory): a hit then costs no
	// allocation. Unused by a region with a Store, which always encodes.
	RoundTrip bool

	// MaxEntries bounds a memory region (INI max_entries, a beaker-go
	// addition). When it is full, a write drops one of a few sampled
	// entries, preferring dead ones, else the oldest. The default is 100000.
	MaxEntries int
}

// Defaults for RegionOptions fields left zero.
const (
	DefaultKeyLength          = 250
	DefaultLockLease          = 30 * time.Second
	DefaultGenerationInterval = time.Second
	DefaultMaxEntries         = 100000
	maxDefaultGrace           = time.Hour
)

// ErrInvalidOptions is wrapped by the error New returns for a bad
// configuration.
var ErrInvalidOptions = errors.New("cache: invalid options")

// ErrClosed is returned by GetOrCreate (and memoized functions) when a miss
// would start a creator run in a region whose Manager has been closed.
var ErrClosed = errors.New("cache: manager closed")

// tick is the resolution of the coarse clock; idleTicks is how many ticks
// without a read stop it.
const (
	tick      = time.Millisecond
	idleTicks = 1000
)

// Manager holds a set of named regions. Create it with New and stop it with
// Close. Its methods are safe for concurrent use.
type Manager struct {
	regions  map[string]*Region
	names    []string
	log      *slog.Logger
	nowFn    func() time.Time
	coarseOn bool // nowFn is time.Now: reads use the coarse clock

	// coarse is the coarse clock in unix nanoseconds, updated every tick by
	// the clock goroutine while it runs; 0 means "stopped: call nowFn". read
	// is set by the readers that find it clear, and cleared by the clock
	// every idleTicks: the clock stops when it finds it still clear. Both
	// are read, not written, by a hit.
	coarse atomic.Int64
	read   atomic.Bool
	ticks  atomic.Int64 // ticks so far, for tests

	clockMu   sync.Mutex     // guards clockOn, clockStop and clockWG.Add
	clockOn   bool           // the clock goroutine runs
	clockStop chan struct{}  // closed by Close
	clockWG   sync.WaitGroup // the clock goroutine

	mu          sync.Mutex // guards closed and wg.Add
	closed      bool
	wg          sync.WaitGroup  // creator runs
	closeCtx    context.Context // cancelled by Close: cancels creator runs
	closeCancel context.CancelFunc
	once        sync.Once
}

// New returns a Manager with the regions of opts. It does no I/O (a region
// reads its backend on first use) and starts no goroutine: the coarse clock
// starts on the first read (see the package documentation).
func New(opts Options) (*Manager, error) {
	m := &Manager{
		regions:   make(map[string]*Region, len(opts.Regions)),
		log:       opts.Logger,
		nowFn:     opts.Now,
		clockStop: make(chan struct{}),
	}
	m.closeCtx, m.closeCancel = context.WithCancel(context.Background())
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.nowFn == nil {
		m.nowFn = time.Now
		m.coarseOn = true
	}
	for _, ro := range opts.Regions {
		if ro.Name == "" {
			m.closeCancel()
			return nil, fmt.Errorf("%w: a region has no name", ErrInvalidOptions)
		}
		if m.regions[ro.Name] != nil {
			m.closeCancel()
			return nil, fmt.Errorf("%w: region %q configured twice", ErrInvalidOptions, ro.Name)
		}
		r, err := newRegion(m, ro)
		if err != nil {
			m.closeCancel()
			return nil, err
		}
		m.regions[ro.Name] = r
		m.names = append(m.names, ro.Name)
	}
	// Regions with stores whose prefixes overlap: sorted, a prefix comes
	// right before the prefixes it starts. Regions on different stores
	// count too: where each lives may change.
	var stored []*Region
	for _, name := range m.names {
		if r := m.regions[name]; r.st != nil {
			stored = append(stored, r)
		}
	}
	slices.SortFunc(stored, func(a, b *Region) int { return strings.Compare(a.prefix, b.prefix) })
	for k := 1; k < len(stored); k++ {
		if e, r := stored[k-1], stored[k]; strings.HasPrefix(r.prefix, e.prefix) {
			m.closeCancel()
			return nil, fmt.Errorf("%w: regions %q and %q: their key prefixes %q and %q overlap, so a key of one can be a key of the other "+
				"(a region name holding ':'); rename one or set its Prefix", ErrInvalidOptions, e.name, r.name, e.prefix, r.prefix)
		}
	}
	return m, nil
}

// Region returns the region named name.
func (m *Manager) Region(name string) (*Region, bool) {
	r, ok := m.regions[name]
	return r, ok
}

// Regions returns the names of the regions, in configuration order.
func (m *Manager) Regions() []string {
	return append([]string(nil), m.names...)
}

// Close stops the coarse clock, cancels the context of every creator that
// is running and waits for them to return: no goroutine of the Manager
// runs afterwards. Hits are still served (reading time.Now), but a miss
// returns ErrClosed. Close is idempotent.
func (m *Manager) Close() error {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.closeCancel()
		m.clockMu.Lock()
		close(m.clockStop) // no restart after this: wake checks it under clockMu
		m.clockMu.Unlock()
	})
	m.clockWG.Wait()
	m.wg.Wait()
	return nil
}

// now returns the current time in unix nanoseconds, to within a tick: the
// read path's clock. While the coarse clock runs it is two atomic loads;
// the first read after the clock stopped (an idle second) restarts it.
func (m *Manager) now() int64 {
	if n := m.coarse.Load(); n != 0 {
		if !m.read.Load() {
			m.read.Store(true)
		}
		return n
	}
	return m.wake()
}

// wake returns the precise time and, unless the Manager is closed or was
// given a clock, starts the coarse clock.
func (m *Manager) wake() int64 {
	now := m.nowFn().UnixNano()
	if !m.coarseOn {
		return now
	}
	// Closed: every read comes here; the check under the lock below is
	// the one that counts, this one keeps those reads off the lock.
	select {
	case <-m.clockStop:
		return now
	default:
	}
	m.clockMu.Lock()
	defer m.clockMu.Unlock()
	select {
	case <-m.clockStop:
		return now
	default:
	}
	if !m.clockOn {
		m.clockOn = true
		m.read.Store(true)
		m.coarse.Store(now)
		m.clockWG.Add(1)
		go m.runClock()
	}
	return now
}

// runClock updates coarse every tick, and returns when Close is called or
// when no read happened during idleTicks ticks.
func (m *Manager) runClock() {
	defer m.clockWG.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-m.clockStop:
			m.clockMu.Lock()
			m.coarse.Store(0)
			m.clockOn = false
			m.clockMu.Unlock()
			return
		case now := <-t.C:
			m.coarse.Store(now.UnixNano())
			m.ticks.Add(1)
		}
		if n%idleTicks != 0 {
			continue
		}
		if m.read.Swap(false) {
			continue // read during the last idleTicks: keep going
		}
		m.clockMu.Lock()
		m.coarse.Store(0) // the next read calls wake
		m.clockOn = false
		m.clockMu.Unlock()
		return
	}
}

// preciseNow returns the current time in unix nanoseconds, for creation and
// invalidation stamps.
func (m *Manager) preciseNow() int64 { return m.nowFn().UnixNano() }

// startRun registers a creator run, unless the Manager is closed.
func (m *Manager) startRun() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.wg.Add(1)
	return nil
}
