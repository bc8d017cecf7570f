package session_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gobeaker/beaker/session"
)

// handle runs f in one request of c, on the app's manager.
func (a *app) handle(c *client, f func(s *session.Session)) response {
	a.t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/f", func(w http.ResponseWriter, r *http.Request) { f(session.FromRequest(r)) })
	a.srv.Config.Handler = a.m.Middleware(mux)
	defer func() { a.srv.Config.Handler = a.m.Middleware(a.mux()) }()
	return c.do("/f")
}

func TestDictMethods(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	a.handle(c, func(s *session.Session) {
		s.Update(map[string]any{"a": 1, "b": "two", "c": []int{3}})
		if got := session.SetDefault(s, "a", 9); got != 1 {
			t.Errorf("SetDefault of a set key = %d, want 1", got)
		}
		if got := session.SetDefault(s, "d", 4); got != 4 {
			t.Errorf("SetDefault of a missing key = %d, want 4", got)
		}
	})
	a.handle(c, func(s *session.Session) {
		if s.Len() != 4 {
			t.Errorf("Len = %d, want 4", s.Len())
		}
		var keys []string
		var vals []string
		for k, v := range s.All() {
			keys = append(keys, k)
			vals = append(vals, string(v))
		}
		if !slices.Equal(keys, []string{"a", "b", "c", "d"}) || !slices.Equal(vals, []string{"1", `"two"`, "[3]", "4"}) {
			t.Errorf("All = %v %v", keys, vals)
		}
		if v, ok := session.Pop[string](s, "b"); !ok || v != "two" {
			t.Errorf("Pop = %q, %v", v, ok)
		}
		if _, ok := session.Pop[string](s, "b"); ok {
			t.Error("Pop of a popped key found it")
		}
	})
	a.handle(c, func(s *session.Session) {
		if s.Has("b") || s.Len() != 3 {
			t.Errorf("after Pop: keys %v", s.Keys())
		}
	})
}

func TestClearDropsFlashAndToken(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	var token string
	a.handle(c, func(s *session.Session) {
		s.Set("user", "ann")
		s.AddFlash("old")
		token = s.CSRFToken()
	})
	a.handle(c, func(s *session.Session) {
		s.Clear()
		if s.PeekCSRFToken() != "" || len(s.PeekFlash("")) != 0 || s.Len() != 0 {
			t.Errorf("after Clear: token %q, flash %v, keys %v", s.PeekCSRFToken(), s.PeekFlash(""), s.Keys())
		}
		s.AddFlash("logged out")
	})
	a.handle(c, func(s *session.Session) {
		if got := s.PopFlash(""); !slices.Equal(got, []string{"logged out"}) {
			t.Errorf("flash after Clear = %v, want only what came after it", got)
		}
		if tok := s.CSRFToken(); tok == token || tok == "" {
			t.Errorf("CSRF token after Clear %q (before %q): want a new one", tok, token)
		}
		if s.Has("user") {
			t.Error("a value survived Clear")
		}
	})
}

func TestTypedFlash(t *testing.T) {
	type notice struct {
		Level string `json:"level"`
		Text  string `json:"text"`
	}
	a := newApp(t, session.Options{})
	c := a.client()
	a.handle(c, func(s *session.Session) {
		s.AddFlash(notice{"info", "saved"})
		s.AddFlashTo("errors", 42)
		s.AddFlashOnce("errors", 42)
		s.AddFlashOnce("errors", 43)
		s.Flash("legacy", "", true) // the deprecated form still works
	})
	a.handle(c, func(s *session.Session) {
		if got := session.PeekFlashes[int](s, "errors"); !slices.Equal(got, []int{42, 43}) {
			t.Errorf("PeekFlashes[int] = %v, want [42 43] (no duplicate)", got)
		}
		got := session.PopFlashes[notice](s, "")
		if len(got) != 1 || got[0] != (notice{"info", "saved"}) {
			t.Errorf("PopFlashes[notice] = %+v", got)
		}
		if left := s.PeekFlash(""); len(left) != 0 {
			t.Errorf("PopFlashes left %v (a message it could not decode is removed too)", left)
		}
		if got := s.PopFlash("errors"); !slices.Equal(got, []string{"42", "43"}) {
			t.Errorf("PopFlash of numbers = %q, want their JSON text", got)
		}
	})
}

func TestAuto(t *testing.T) {
	for _, auto := range []bool{false, true} {
		a := newApp(t, session.Options{Auto: auto})
		c := a.client()
		a.handle(c, func(s *session.Session) {
			s.Set("cart", map[string]int{"apples": 1})
			s.Set("untouched", []string{"x"})
		})
		a.handle(c, func(s *session.Session) {
			cart, _ := session.Get[map[string]int](s, "cart")
			cart["pears"] = 2 // changed in place, no Changed()
			_, _ = session.Get[[]string](s, "untouched")
		})
		var got map[string]int
		a.handle(c, func(s *session.Session) { got, _ = session.Get[map[string]int](s, "cart") })
		if saved := got["pears"] == 2; saved != auto {
			t.Errorf("Auto %v: in-place change saved = %v", auto, saved)
		}
		// A request that reads without changing writes nothing, even with Auto.
		before := a.store.writes()
		a.handle(c, func(s *session.Session) { _, _ = session.Get[map[string]int](s, "cart") })
		if a.store.writes() != before {
			t.Errorf("Auto %v: a read-only request wrote", auto)
		}
	}
}

// The values All yields are the handler's: changing their bytes changes
// nothing stored, also when the store hands out its own bytes.
func TestAllValuesAreCopies(t *testing.T) {
	a := newApp(t, session.Options{})
	c := a.client()
	a.handle(c, func(s *session.Session) { s.Set("k", "value") })
	a.handle(c, func(s *session.Session) {
		for _, v := range s.All() {
			for i := range v {
				v[i] = 'x'
			}
		}
	})
	a.handle(c, func(s *session.Session) {
		if got, _ := session.Get[string](s, "k"); got != "value" {
			t.Errorf("after a handler wrote into the bytes All gave it: k = %q, want value", got)
		}
	})
}
