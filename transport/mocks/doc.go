// Package mocks holds gomock mocks of the socket interface that rollback
// defines and every transport implements, for unit tests of code that sends
// and receives through a socket. Regenerate with go generate.
package mocks

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -source=../../rollback/socket.go -destination=socket.go -package=mocks
