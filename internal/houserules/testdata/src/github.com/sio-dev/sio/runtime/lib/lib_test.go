package lib

import "context"

// Tests may use all of it.
var _ interface{} = context.Background()

func init() { panic("tests may") }
