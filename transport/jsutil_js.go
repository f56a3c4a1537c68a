//go:build js

package transport

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// jsError turns a rejected promise's reason or a thrown value into an error.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if name.Type() == js.TypeString && msg.Type() == js.TypeString {
			return fmt.Errorf("transport: browser %s: %s", name.String(), msg.String())
		}
	}
	return errors.New("transport: browser: " + js.Global().Get("String").Invoke(v).String())
}

// catch runs f and returns what it throws, as syscall/js panics with a
// js.Error when a called JavaScript function throws.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = jsError(jsErr.Value)
		}
	}()
	f()
	return nil
}

// await waits for promise to settle or ctx to end. It must not run on a
// goroutine JavaScript called into (a js.FuncOf callback), which blocks the
// event loop that would settle the promise.
func await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	var onResolve, onReject js.Func
	release := func() { onResolve.Release(); onReject.Release() }
	onResolve = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: arg0(args)}
		release()
		return nil
	})
	onReject = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: jsError(arg0(args))}
		release()
		return nil
	})
	if err := catch(func() { promise.Call("then", onResolve, onReject) }); err != nil {
		release()
		return js.Undefined(), err
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		// The callbacks stay until the promise settles, and release
		// themselves then: JavaScript must never call a released one.
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// bytesOf copies an ArrayBuffer, a typed array or a string into Go memory,
// reusing buf if it is large enough.
func bytesOf(v js.Value, buf []byte) []byte {
	if v.Type() == js.TypeString {
		return append(buf[:0], v.String()...)
	}
	arr := v
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		arr = js.Global().Get("Uint8Array").New(v)
	}
	n := arr.Length()
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	js.CopyBytesToGo(buf, arr)
	return buf
}

// byteLength is the size of an ArrayBuffer, or of a string in UTF-8.
func byteLength(v js.Value) int {
	if v.Type() == js.TypeString {
		// syscall/js reads no property of a primitive; the browser already
		// holds the whole string, so the copy is bounded by what arrived.
		return len(v.String())
	}
	if n := v.Get("byteLength"); n.Type() == js.TypeNumber {
		return n.Int()
	}
	return 0
}

// handlers sets event handler properties on a JavaScript object and later
// removes them all before releasing their functions, so that no event can
// reach a released function (which would end the program).
type handlers struct {
	set []struct {
		obj  js.Value
		name string
		f    js.Func
	}
}

func (h *handlers) on(obj js.Value, name string, f func(this js.Value, args []js.Value) any) {
	fn := js.FuncOf(f)
	obj.Set(name, fn)
	h.set = append(h.set, struct {
		obj  js.Value
		name string
		f    js.Func
	}{obj, name, fn})
}

func (h *handlers) release() {
	for _, s := range h.set {
		s.obj.Set(s.name, js.Null())
		s.f.Release()
	}
	h.set = nil
}
