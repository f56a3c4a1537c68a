//go:build js

// Package main tells the page that its wasm ran.
package main

import "syscall/js"

func main() { js.Global().Set("wasmRan", true) }
