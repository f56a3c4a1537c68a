// Package main imports net/http itself.
package main

import "net/http"

func main() { _ = http.StatusOK }
