package rpc

import (
	"context"
	"errors"
	"fmt"
)

// Code is a status code, from the gRPC and Connect code set. On the wire
// it travels as its name ("not_found"), like Connect.
type Code uint32

// The status codes.
const (
	CodeCanceled           Code = 1
	CodeUnknown            Code = 2
	CodeInvalidArgument    Code = 3
	CodeDeadlineExceeded   Code = 4
	CodeNotFound           Code = 5
	CodeAlreadyExists      Code = 6
	CodePermissionDenied   Code = 7
	CodeResourceExhausted  Code = 8
	CodeFailedPrecondition Code = 9
	CodeAborted            Code = 10
	CodeOutOfRange         Code = 11
	CodeUnimplemented      Code = 12
	CodeInternal           Code = 13
	CodeUnavailable        Code = 14
	CodeDataLoss           Code = 15
	CodeUnauthenticated    Code = 16
)

var codeNames = map[Code]string{
	CodeCanceled:           "canceled",
	CodeUnknown:            "unknown",
	CodeInvalidArgument:    "invalid_argument",
	CodeDeadlineExceeded:   "deadline_exceeded",
	CodeNotFound:           "not_found",
	CodeAlreadyExists:      "already_exists",
	CodePermissionDenied:   "permission_denied",
	CodeResourceExhausted:  "resource_exhausted",
	CodeFailedPrecondition: "failed_precondition",
	CodeAborted:            "aborted",
	CodeOutOfRange:         "out_of_range",
	CodeUnimplemented:      "unimplemented",
	CodeInternal:           "internal",
	CodeUnavailable:        "unavailable",
	CodeDataLoss:           "data_loss",
	CodeUnauthenticated:    "unauthenticated",
}

// String returns the code's wire name, such as "not_found".
func (c Code) String() string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// parseCode maps a wire name back to a Code; unknown names are CodeUnknown.
func parseCode(name string) Code {
	for c, n := range codeNames {
		if n == name {
			return c
		}
	}
	return CodeUnknown
}

// CodeOf returns the code of err: an *Error's code, CodeCanceled or
// CodeDeadlineExceeded for context errors, CodeUnknown otherwise.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return CodeDeadlineExceeded
	}
	return CodeUnknown
}
