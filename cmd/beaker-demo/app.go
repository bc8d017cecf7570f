package main

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/cache"
	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
)

//go:embed templates/*.html
var templateFS embed.FS

const notePrefix = "note:"

// app is the Akhet demo: a visit counter, flash messages, a login, notes
// kept in the session, all protected against CSRF.
type app struct {
	tmpl  *template.Template
	log   *slog.Logger
	cache *cache.Region // the short_term region, or nil
	runs  atomic.Int64  // how often the cached report was made
}

// newHandler returns the demo's handler: routes, wrapped in CSRF protection
// and the session middleware that b was configured with.
func newHandler(b *beaker.Beaker, log *slog.Logger) http.Handler {
	a := &app{
		tmpl: template.Must(template.ParseFS(templateFS, "templates/*.html")),
		log:  log,
	}
	if b.Cache != nil {
		a.cache, _ = b.Cache.Region("short_term")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /flash", a.flash)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /notes", a.notes)
	mux.HandleFunc("GET /api/session", a.api)
	mux.HandleFunc("GET /cached", a.cached)
	mux.HandleFunc("POST /cached/invalidate", a.invalidate)
	return b.Sessions.Middleware(b.CSRF.Middleware(mux))
}

type page struct {
	Counter   int
	User      string
	Flash     []string
	Notes     []note
	CSRFField template.HTML
	New       bool
}

type note struct{ Key, Value string }

func notes(s *session.Session) []note {
	var out []note
	for _, k := range s.Keys() {
		if name, ok := strings.CutPrefix(k, notePrefix); ok {
			v, _ := session.Get[string](s, k)
			out = append(out, note{name, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	n, _ := session.Get[int](s, "counter")
	n++
	s.Set("counter", n)
	user, _ := session.Get[string](s, "user")
	p := page{
		Counter:   n,
		User:      user,
		Flash:     s.PopFlash(""),
		Notes:     notes(s),
		CSRFField: csrf.Field(r),
		New:       s.IsNew(),
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := a.tmpl.ExecuteTemplate(w, "home.html", p); err != nil {
		a.log.Error("demo: rendering home", "error", err)
	}
}

func back(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) flash(w http.ResponseWriter, r *http.Request) {
	if msg := strings.TrimSpace(r.FormValue("message")); msg != "" {
		session.FromRequest(r).AddFlash(msg)
	}
	back(w, r)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	name := strings.TrimSpace(r.FormValue("username"))
	if name == "" {
		s.AddFlashOnce("", "Please give a user name.")
		back(w, r)
		return
	}
	s.RegenerateID() // against session fixation; also makes a new CSRF token
	s.Set("user", name)
	s.AddFlash("Logged in as " + name)
	back(w, r)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	s.Invalidate()
	back(w, r)
}

func (a *app) notes(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	key := strings.TrimSpace(r.FormValue("key"))
	if key == "" {
		s.AddFlashOnce("", "A note needs a name.")
		back(w, r)
		return
	}
	s.Set(notePrefix+key, r.FormValue("value"))
	back(w, r)
}

// api shows the session as JSON. It changes nothing: flash messages are
// peeked, not popped, and no CSRF token is made.
func (a *app) api(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	n, _ := session.Get[int](s, "counter")
	var user *string
	if u, ok := session.Get[string](s, "user"); ok {
		user = &u
	}
	ns := map[string]string{}
	for _, nt := range notes(s) {
		ns[nt.Key] = nt.Value
	}
	flash := s.PeekFlash("")
	if flash == nil {
		flash = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"counter":    n,
		"user":       user,
		"notes":      ns,
		"flash":      flash,
		"csrf_token": s.PeekCSRFToken(),
		"new":        s.IsNew(),
	})
}

// report is the demo's "expensive" value, cached in the short_term region.
type report struct {
	Run  int64     `json:"run"`
	Made time.Time `json:"made"`
}

// makeReport is the creator: it runs once per expiry of the region, however
// many requests ask at once.
func (a *app) makeReport(ctx context.Context) (report, error) {
	return report{Run: a.runs.Add(1), Made: time.Now().UTC()}, nil
}

type cachedPage struct {
	Region    string
	Expire    string
	Report    report
	Age       string
	Stats     cache.Stats
	CSRFField template.HTML
	Flash     []string
	User      string
}

// cached shows a value made through the short_term region, when it was
// made, and the region's statistics.
func (a *app) cached(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	user, _ := session.Get[string](s, "user")
	p := cachedPage{CSRFField: csrf.Field(r), Flash: s.PopFlash(""), User: user}
	if a.cache == nil {
		http.Error(w, "no short_term cache region in the settings (cache.regions)", http.StatusNotFound)
		return
	}
	rep, err := cache.GetOrCreate(r.Context(), a.cache, "report", a.makeReport)
	if err != nil {
		a.log.Error("demo: cached report", "error", err)
		http.Error(w, "the cached report could not be made", http.StatusInternalServerError)
		return
	}
	p.Region, p.Report, p.Stats = a.cache.Name(), rep, a.cache.Stats()
	p.Age = time.Since(rep.Made).Round(time.Second).String()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := a.tmpl.ExecuteTemplate(w, "cached.html", p); err != nil {
		a.log.Error("demo: rendering cached", "error", err)
	}
}

// invalidate invalidates the short_term region, hard or soft.
func (a *app) invalidate(w http.ResponseWriter, r *http.Request) {
	if a.cache == nil {
		http.NotFound(w, r)
		return
	}
	hard := r.FormValue("mode") != "soft"
	if err := a.cache.Invalidate(r.Context(), cache.Mode(hard)); err != nil {
		a.log.Error("demo: invalidating", "error", err)
		http.Error(w, "invalidation failed", http.StatusServiceUnavailable)
		return
	}
	mode := "soft"
	if hard {
		mode = "hard"
	}
	session.FromRequest(r).AddFlash("Region " + a.cache.Name() + " invalidated (" + mode + ")")
	http.Redirect(w, r, "/cached", http.StatusSeeOther)
}
