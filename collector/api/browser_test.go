package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser starts Debian's Chromium headless (chromedp, through a pipe) for
// one test and returns a tab's context; everything stops at cleanup. It
// skips without a chromium binary.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("lang", "en-US"),
		chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first action starts the browser; it must not run under a
	// timeout (that would stop the browser with it).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	return tctx
}

// do runs browser actions or fails the test.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			body, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Evaluate[string]("document.body.innerText"))
			t.Fatalf("browser: waiting for %s: %v (last error %v)\npage:\n%.3000s", cond, ctx.Err(), err, body)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot saves a PNG of the window to XHEP_UI_SHOT_DIR/name when
// that is set (the README's screenshots come from there).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("XHEP_UI_SHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // the viewport (1400x1000), PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// typeDateTime types a time into a datetime-local input the way a user
// does in an en-US Chromium: month, day, year, then (after the year
// field, which takes up to six digits) hour, minute, second, millisecond
// (the inputs have step 0.001) and AM/PM.
func typeDateTime(t *testing.T, ctx context.Context, sel string, tm time.Time) {
	t.Helper()
	h := tm.Hour() % 12
	if h == 0 {
		h = 12
	}
	ampm := "AM"
	if tm.Hour() >= 12 {
		ampm = "PM"
	}
	keys := fmt.Sprintf("%02d%02d%04d%s%02d%02d%02d%03d%s", tm.Month(), tm.Day(), tm.Year(), kb.ArrowRight, h, tm.Minute(), tm.Second(), tm.Nanosecond()/1e6, ampm)
	do(t, ctx, "type into "+sel, chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), keys))
}

func navigate(u string) chromedp.Action[chromedp.Void] { return chromedp.Navigate(u) }

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

func itoa(n int) string { return fmt.Sprint(n) }

func sendKeys(sel, keys string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), keys)
}

// clearInput empties an input (as selecting all and deleting does).
func clearInput(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
}

// selectValue picks an option of a select element and fires its change
// event, as a user's choice does.
func selectValue(sel, value string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value)
	return chromedp.Evaluate[chromedp.Void](js)
}

// catchDownloads makes the page's download links (an anchor with a
// download name, clicked by the console) record what they would save in
// window.__dl instead of saving it; download reads the last one.
func catchDownloads(t *testing.T, ctx context.Context) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const orig = HTMLAnchorElement.prototype.click; HTMLAnchorElement.prototype.click = function () {
		if (this.download) { window.__dl = { name: this.download, href: this.href }; return; } return orig.call(this); }; return true; })()`)
}

// download clicks sel, waits for the download it starts and returns its
// file name and bytes.
func download(t *testing.T, ctx context.Context, sel string) (string, []byte) {
	t.Helper()
	eval[bool](t, ctx, `(window.__dl = null, true)`)
	do(t, ctx, "click "+sel, click(sel))
	waitFor(t, ctx, `window.__dl`)
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(window.__dl.href).then(r => r.arrayBuffer()).then(b => {
		let s = ""; for (const c of new Uint8Array(b)) s += String.fromCharCode(c); return btoa(s); })`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("read the download of %s: %v", sel, err)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return eval[string](t, ctx, `window.__dl.name`), b
}
