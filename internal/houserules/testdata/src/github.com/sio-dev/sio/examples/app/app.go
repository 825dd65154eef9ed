package app

import (
	"context"
	"fmt"
	"time"
)

var v interface{} // want `use any, not interface\{\}`

func main() {
	ctx := context.Background() // fine outside runtime/
	<-time.After(time.Millisecond)
	fmt.Println(ctx)
	panic("fine outside runtime/")
}
