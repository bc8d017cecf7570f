package memstore

import (
	"context"
	"testing"
)

// Versions are counted per shard, so the first write of every shard has
// version 1: an Update given the Entry (from GetShared) of a key in
// another shard, with the same version, must still see its own key's
// value, not take the other's for it.
func TestUpdateEntryOfKeyInAnotherShard(t *testing.T) {
	ctx := context.Background()
	s := New(Options{JanitorInterval: -1}) // the default bounds give at least 16 shards
	defer s.Close()
	if len(s.shards) < 2 {
		t.Fatalf("%d shard: the case needs two", len(s.shards))
	}
	a, b := "a", ""
	sa, _ := s.shardOf(a)
	for i := 0; b == ""; i++ {
		if k := string(rune('b' + i)); func() bool { sh, _ := s.shardOf(k); return sh != sa }() {
			b = k
		}
	}
	for _, k := range []string{a, b} {
		if err := s.Set(ctx, k, []byte(k), 0); err != nil {
			t.Fatal(err)
		}
	}
	ea, _, _ := s.GetShared(ctx, a)
	eb, _, _ := s.GetShared(ctx, b)
	if ea.Version != eb.Version {
		t.Fatalf("versions %d and %d: the case needs two shards' first writes", ea.Version, eb.Version)
	}
	var seen string
	err := s.Update(ctx, b, ea, 0, func(cur []byte, _ bool) ([]byte, error) {
		seen = string(cur)
		return append(append([]byte(nil), cur...), '!'), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, _, _ := s.Get(ctx, b); seen != b || string(g.Value) != b+"!" {
		t.Fatalf("Update of %q given %q's Entry: fn saw %q, stored %q", b, a, seen, g.Value)
	}
}
