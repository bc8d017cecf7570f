package main

import (
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/gobeaker/beaker"
	"github.com/gobeaker/beaker/csrf"
	"github.com/gobeaker/beaker/session"
)

//go:embed templates/*.html
var templateFS embed.FS

const notePrefix = "note:"

// app is the Akhet demo: a visit counter, flash messages, a login, notes
// kept in the session, all protected against CSRF.
type app struct {
	tmpl *template.Template
	log  *slog.Logger
}

// newHandler returns the demo's handler: routes, wrapped in CSRF protection
// and the session middleware that b was configured with.
func newHandler(b *beaker.Beaker, log *slog.Logger) http.Handler {
	a := &app{
		tmpl: template.Must(template.ParseFS(templateFS, "templates/*.html")),
		log:  log,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /flash", a.flash)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /notes", a.notes)
	mux.HandleFunc("GET /api/session", a.api)
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
		session.FromRequest(r).Flash(msg, "", true)
	}
	back(w, r)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := session.FromRequest(r)
	name := strings.TrimSpace(r.FormValue("username"))
	if name == "" {
		s.Flash("Please give a user name.", "", false)
		back(w, r)
		return
	}
	s.RegenerateID() // against session fixation; also makes a new CSRF token
	s.Set("user", name)
	s.Flash("Logged in as "+name, "", true)
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
		s.Flash("A note needs a name.", "", false)
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
