//go:build linux

package chromium_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"go.uber.org/goleak"
)

// The DevTools reader must end with the browser.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A test starts Chromium, opens a page and reads a value from it.
func Example() {
	dir, err := os.MkdirTemp("", "chromium-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	b, err := chromium.Start(chromium.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	page, err := b.NewPage(ctx, "data:text/html,<title>boxes</title>", 640, 480)
	if err != nil {
		fmt.Println(err)
		return
	}
	var title string
	// A promise is awaited: here, until the page has loaded.
	err = page.Evaluate(ctx, `new Promise((resolve) => {
		const done = () => resolve(document.title + " " + innerWidth + "x" + innerHeight);
		document.readyState === "complete" ? done() : addEventListener("load", done);
	})`, &title)
	fmt.Println(title, err)
	// Output: boxes 640x480 <nil>
}
