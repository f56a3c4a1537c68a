// Package main brings crypto/tls in through lib.
package main

import "github.com/rollbox/rollbox/internal/wasmdeps/testdata/indirect/lib"

func main() { lib.Use() }
