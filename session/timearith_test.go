package session

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// sinceMilli is now.Sub(time.UnixMilli(ms)) without Sub's cost: the same
// result for every now and ms, including records created in the future,
// before 1970, and far enough either way for Sub to saturate.
// maxMilli is the most milliseconds a Duration holds.
const maxMilli = math.MaxInt64 / int64(time.Millisecond)

func TestSinceMilliIsSub(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	nowMs := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixMilli()
	edges := []int64{0, 1, -1, nowMs, nowMs - 1, nowMs + 1, math.MaxInt64, math.MinInt64,
		maxMilli, -maxMilli, nowMs - maxMilli, nowMs + maxMilli,
		nowMs - maxMilli - 1, nowMs + maxMilli + 1, nowMs - maxMilli + 1}
	for i := range 20000 {
		now := time.UnixMilli(nowMs + rng.Int64N(1e12) - 5e11).Add(time.Duration(rng.Int64N(1e6)))
		if i%3 == 0 {
			now = time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9))
		}
		var ms int64
		switch i % 4 {
		case 0:
			ms = edges[rng.IntN(len(edges))]
		case 1:
			ms = now.UnixMilli() + rng.Int64N(2e13) - 1e13
		case 2:
			ms = rng.Int64()
		default:
			ms = now.UnixMilli() - maxMilli + rng.Int64N(5) - 2
		}
		if got, want := sinceMilli(now, ms), now.Sub(time.UnixMilli(ms)); got != want {
			t.Fatalf("sinceMilli(%v, %d) = %d, Sub gives %d", now, ms, got, want)
		}
	}
}

// ttl is what time.UnixMilli(created).Add(Lifetime).Sub(now) gave, capped
// by the idle timeout and at least a millisecond.
func TestTTLIsLifetimeLeft(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 20000 {
		lifetime := time.Duration(rng.Int64N(int64(100 * 365 * 24 * time.Hour)))
		if i%5 == 0 {
			lifetime = math.MaxInt64 - time.Duration(rng.Int64N(1e12))
		}
		created := now.UnixMilli() - rng.Int64N(2*int64(lifetime/time.Millisecond)+2) + int64(lifetime/time.Millisecond)/2
		if i%7 == 0 {
			created = rng.Int64()
		}
		var timeout time.Duration
		if i%2 == 0 {
			timeout = time.Duration(rng.Int64N(int64(48 * time.Hour)))
		}
		s := &Session{m: &Manager{opts: Options{Lifetime: lifetime, Timeout: timeout}}, rec: record{Created: created}}
		want := time.UnixMilli(created).Add(lifetime).Sub(now)
		if timeout > 0 && timeout < want {
			want = timeout
		}
		want = max(want, time.Millisecond)
		if got := s.ttl(now); got != want {
			t.Fatalf("lifetime %d, created %d, timeout %d: ttl %d, want %d", lifetime, created, timeout, got, want)
		}
	}
}
