package pb

var v interface{} // generated code is exempt
