module github.com/gobeaker/beaker/bench

go 1.26.0

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
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
