package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobeaker/beaker/internal/demotest"
)

// browser returns a chromedp context on a fresh headless Chromium.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("BEAKER_TEST_CHROMIUM")
	if path == "" {
		if os.Getenv("BEAKER_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("BEAKER_TEST_CHROMIUM is not set (BEAKER_TEST_REQUIRE_SERVICES=1)")
		}
		t.Skip("BEAKER_TEST_CHROMIUM is not set: no browser to drive")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1000, 800),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	return bctx
}

// startDemo builds and runs the demo on a free port, returning its URL.
func startDemo(t *testing.T, args ...string) string {
	t.Helper()
	return demotest.Start(t, demotest.Build(t, ".."), args...)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// submit types into fields, clicks button and waits for the next page.
func submit(t *testing.T, ctx context.Context, fields map[string]string, button string) {
	t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		steps = append(steps, chromedp.SendKeys(chromedp.ID(id), v))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("typing: %v", err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(button)))
	if err != nil {
		t.Fatalf("clicking %s: %v", button, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("clicking %s: status %d", button, resp.Status)
	}
}

func navigate(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
}

// cookieINI copies examples/cookie.ini into a temporary folder (as
// cmd/beaker-demo's TestExamples does, so that nothing is written into
// the repository) and returns the copy's path.
func cookieINI(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../examples/cookie.ini")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cookie.ini")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDemoInChromium walks through the demo as a person would: on the
// built-in settings (memory sessions) and on examples/cookie.ini (the
// whole session sealed in the cookie), where a flash too large for a
// 4096-byte cookie must show the error page, not vanish.
func TestDemoInChromium(t *testing.T) {
	ctx := browser(t) // skips without a browser, before the build
	bin := demotest.Build(t, "..")
	t.Run("built-in", func(t *testing.T) {
		walkInChromium(t, ctx, demotest.Start(t, bin))
	})
	t.Run("cookie.ini", func(t *testing.T) {
		ctx := browser(t)
		base := demotest.Start(t, bin, "-config", cookieINI(t))
		walkInChromium(t, ctx, base)
		cookieOverflow(t, ctx, base)
	})
}

// cookieOverflow flashes a message that cannot fit in a 4096-byte cookie:
// the browser is shown the error page (500), the cookie it had stays
// valid, and a small flash still works afterwards.
func cookieOverflow(t *testing.T, ctx context.Context, base string) {
	navigate(t, ctx, base+"/")
	before := text(t, ctx, "#counter")
	big := strings.Repeat("overflow ", 4096/9+1) // over 4096 bytes before sealing
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("message"), big)); err != nil {
		t.Fatalf("setting the message: %v", err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("send-flash")))
	if err != nil {
		t.Fatalf("sending the big flash: %v", err)
	}
	if resp.Status != http.StatusInternalServerError {
		t.Fatalf("a flash over the cookie limit: status %d, want the error page (500)", resp.Status)
	}
	if got := text(t, ctx, "body"); !strings.Contains(got, "Internal Server Error") {
		t.Fatalf("the error page: %q", got)
	}
	// The cookie from before the failed save still works: the session
	// goes on, without the flash that could not be kept.
	navigate(t, ctx, base+"/")
	if got := text(t, ctx, "#counter"); got == "1" || got == before {
		t.Fatalf("counter %q after the failed save (was %s): the session was lost or did not count", got, before)
	}
	if got := text(t, ctx, "main"); strings.Contains(got, "overflow") {
		t.Fatal("the flash that could not be saved is shown")
	}
	submit(t, ctx, map[string]string{"message": "small again"}, "send-flash")
	if got := text(t, ctx, "#flash"); got != "small again" {
		t.Fatalf("a small flash after the failed one: %q", got)
	}
}

// walkInChromium walks through the demo at base.
func walkInChromium(t *testing.T, ctx context.Context, base string) {
	navigate(t, ctx, base+"/")
	if got := text(t, ctx, "#counter"); got != "1" {
		t.Fatalf("counter %q on the first visit", got)
	}
	navigate(t, ctx, base+"/")
	if got := text(t, ctx, "#counter"); got != "2" {
		t.Fatalf("counter %q on the second visit", got)
	}

	submit(t, ctx, map[string]string{"message": "Hello from Chromium"}, "send-flash")
	if got := text(t, ctx, "main"); !strings.Contains(got, "Hello from Chromium") {
		t.Fatalf("flash not shown after the redirect: %q", got)
	}
	navigate(t, ctx, base+"/")
	if got := text(t, ctx, "main"); strings.Contains(got, "Hello from Chromium") {
		t.Fatal("flash shown twice")
	}

	submit(t, ctx, map[string]string{"username": "ann"}, "login")
	if got := text(t, ctx, "#who"); got != "Logged in as ann" {
		t.Fatalf("header after login: %q", got)
	}
	if got := text(t, ctx, "#flash"); got != "Logged in as ann" {
		t.Fatalf("flash after login: %q", got)
	}

	submit(t, ctx, map[string]string{"note-key": "colour", "note-value": "green"}, "save-note")
	if got := text(t, ctx, "#notes"); !strings.Contains(got, "colour") || !strings.Contains(got, "green") {
		t.Fatalf("notes: %q", got)
	}

	navigate(t, ctx, base+"/cached")
	if got := text(t, ctx, "#run"); got != "#1" {
		t.Fatalf("cached value %q", got)
	}
	navigate(t, ctx, base+"/cached")
	if got := text(t, ctx, "#hits"); got != "1" {
		t.Fatalf("hits after a second look: %q", got)
	}

	navigate(t, ctx, base+"/")
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	if dir := os.Getenv("BEAKER_E2E_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "home.png"), png, 0o644)
	}

	submit(t, ctx, nil, "logout")
	if got := text(t, ctx, "#who"); got != "Not logged in" {
		t.Fatalf("header after logout: %q", got)
	}
	if got := text(t, ctx, "#counter"); got != "1" {
		t.Fatalf("counter after logout %q, want a new session's 1", got)
	}
}

// TestCrossSiteFormRefused has a page on another origin post a form to the
// demo, as a CSRF attack would: the browser sends the session cookie
// (same site), and the demo must refuse.
func TestCrossSiteFormRefused(t *testing.T) {
	ctx := browser(t)
	base := startDemo(t)
	navigate(t, ctx, base+"/") // the victim has a session
	if got := text(t, ctx, "#counter"); got != "1" {
		t.Fatalf("counter %q", got)
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/notes">
<input name="key" value="pwned"><input name="value" value="yes">
<input name="csrf_token" value="guess"><button id="go">go</button></form>`, base)
	}))
	defer evil.Close()
	navigate(t, ctx, evil.URL)
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("go")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusForbidden {
		t.Fatalf("a cross-site form post got status %d, want 403", resp.Status)
	}
	if got := text(t, ctx, "body"); !strings.Contains(got, "cross-origin") {
		t.Fatalf("refusal page: %q", got)
	}
	navigate(t, ctx, base+"/api/session")
	if got := text(t, ctx, "body"); strings.Contains(got, "pwned") {
		t.Fatalf("the forged request changed the session: %s", got)
	}
}
