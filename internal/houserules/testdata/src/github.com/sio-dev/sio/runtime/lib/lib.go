package lib

import (
	"context"
	"fmt"
	"log"
	"time"
)

var v interface{} // want `use any, not interface\{\}`

type named interface{ M() }

func f(ctx context.Context) error {
	_ = context.Background()     // want `no context.Background in library code`
	_ = context.TODO()           // want `no context.TODO in library code`
	root := context.Background() //sio:root-context
	_ = root
	select {
	case <-time.After(time.Second): // want `no time.After in library code`
	case <-ctx.Done():
	}
	if time.Now().After(time.Now()) { // a method, not time.After
		fmt.Println("x") // want `no printing in library code`
	}
	s := fmt.Sprintf("%d", 1) // formatting is fine
	log.Printf("%s", s)       // want `no global logging in library code`
	// A comment saying panic( or time.After( or interface{} is no call.
	_ = "context.Background() in a string is no call"
	panic("no") // want `no panics in library code`
}
