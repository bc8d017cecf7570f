// Package e2e holds the end-to-end tests of the Akhet demo in a real,
// headless Chromium, driven with chromedp. It is its own module, so that
// the browser driver never enters the main go.mod.
//
// The tests need BEAKER_TEST_CHROMIUM, the path of a Chromium binary
// (scripts/test.sh installs Debian's chromium and sets it). Without it they
// skip, unless BEAKER_TEST_REQUIRE_SERVICES=1, when they fail.
package e2e
