package session

import (
	"net/http"
	"slices"
	"testing"
)

func TestCookieValues(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  []string
	}{
		{[]string{"s=a"}, []string{"a"}},
		{[]string{"x=1; s=a; y=2"}, []string{"a"}},
		{[]string{"x=1;s=a;s=b"}, []string{"a", "b"}},
		{[]string{"  s=a  ;\ts=\"q\""}, []string{"a", "q"}},
		{[]string{"ss=a; s2=b; s; s =c; =s; s=", "s=d"}, []string{"", "d"}},
		{[]string{"a=s=1", "x=1;;; s=e;"}, []string{"e"}},
		{[]string{"", ";", "s=\""}, []string{"\""}},
	} {
		r := &http.Request{Header: http.Header{"Cookie": c.lines}}
		got := slices.Collect(cookieValues(r, "s"))
		if !slices.Equal(got, c.want) {
			t.Errorf("Cookie %q: values %q, want %q", c.lines, got, c.want)
		}
	}
}
