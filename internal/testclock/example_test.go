package testclock_test

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox/internal/testclock"
)

// A test hands the clock's Now to the code under test and moves time itself.
func Example() {
	c := testclock.New()
	start := c.Now()
	c.Advance(10 * time.Second)
	fmt.Println(c.Now().Sub(start))
	// Output: 10s
}
