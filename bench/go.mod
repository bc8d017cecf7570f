module github.com/gobeaker/beaker/bench

go 1.25

replace github.com/gobeaker/beaker => ../

require (
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/dgraph-io/ristretto/v2 v2.4.2
	github.com/gobeaker/beaker v0.0.0
	github.com/gorilla/sessions v1.4.0
	github.com/maypok86/otter/v2 v2.4.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	golang.org/x/sys v0.36.0 // indirect
)
