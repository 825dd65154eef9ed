//go:build !linux

package main

import "syscall"

// deferPortChoice does nothing where IP_BIND_ADDRESS_NO_PORT does not
// exist: the port is chosen at bind.
func deferPortChoice(_, _ string, _ syscall.RawConn) error { return nil }
