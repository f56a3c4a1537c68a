//go:build js

package transport

import (
	"context"
	"syscall/js"
)

// httpGet fetches url with the browser's fetch and returns the status and
// at most limit bytes of the body (more means the answer is cut short,
// which its decoder notices).
func httpGet(ctx context.Context, url string, limit int64) (int, []byte, error) {
	abort := js.Global().Get("AbortController").New()
	defer abort.Call("abort") // no-op once done; stops a pending body
	var p js.Value
	if err := catch(func() {
		p = js.Global().Call("fetch", url, map[string]any{"signal": abort.Get("signal")})
	}); err != nil {
		return 0, nil, err
	}
	resp, err := await(ctx, p)
	if err != nil {
		return 0, nil, err
	}
	status := resp.Get("status").Int()
	if status != 200 {
		return status, nil, nil
	}
	if err := catch(func() { p = resp.Call("arrayBuffer") }); err != nil {
		return status, nil, err
	}
	body, err := await(ctx, p)
	if err != nil {
		return status, nil, err
	}
	arr := js.Global().Get("Uint8Array").New(body)
	n := min(int64(arr.Length()), limit)
	buf := make([]byte, n)
	js.CopyBytesToGo(buf, arr.Call("subarray", 0, n))
	return status, buf, nil
}
