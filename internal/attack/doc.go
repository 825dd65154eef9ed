// Package attack is the reliability suite: attacks from outside on a
// server process built only on the public API (the programs under
// target/), each a test that prints its result as one line
//
//	FIGURE <name>: <value> <unit> (limit <x>)
//
// and fails when the bound is broken. The attack programs are raw TCP and
// HTTP clients of the suite's own.
//
// By default each attack runs in a bounded form (seconds, scaled-down
// sizes and intervals through the target's flags):
//
//	go test -race -count=1 -v ./internal/attack/ | grep FIGURE
//
// With SIO_ATTACK_FULL=1 each runs at the size the attack was reported
// at (1 500 slowloris connections, 10 000 unpolled handshakes with the
// default 25 s + 20 s heartbeat), which takes minutes.
package attack
