// Package main links nothing the browser provides.
package main

import "fmt"

func main() { fmt.Println("clean") }
