package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// deferPortChoice makes a socket bound to a source address take its port
// at connect time, not at bind (IP_BIND_ADDRESS_NO_PORT): bind has to
// find a port free for every destination, a search that slows down as an
// address's ports fill, where connect only needs one free for this
// destination. With a hundred thousand connections open that search was
// most of the time it took to open more.
func deferPortChoice(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
