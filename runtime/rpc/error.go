package rpc

import (
	"encoding/base64"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sio-dev/sio/runtime/socketio"
)

// Error is a status: a code, a message and optional typed details.
// Handlers return it to fail a call with a code; clients get it back.
// Its message and details reach the client, so keep secrets out of them.
type Error struct {
	code    Code
	message string
	details []*ErrorDetail
	wrapped error
}

// ErrorDetail is a protobuf message attached to an Error.
type ErrorDetail struct {
	typeName string
	value    []byte
}

// NewError returns an Error with code c wrapping err (whose text becomes
// the message).
func NewError(c Code, err error) *Error {
	e := &Error{code: c, wrapped: err}
	if err != nil {
		e.message = err.Error()
	}
	return e
}

// Errorf returns an Error with code c and a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{code: c, message: fmt.Sprintf(format, args...)}
}

// Error returns the code name and the message.
func (e *Error) Error() string {
	if e.message == "" {
		return e.code.String()
	}
	return e.code.String() + ": " + e.message
}

// Unwrap returns the wrapped error, if any.
func (e *Error) Unwrap() error { return e.wrapped }

// Code returns the status code.
func (e *Error) Code() Code { return e.code }

// Message returns the message without the code.
func (e *Error) Message() string { return e.message }

// AddDetail attaches m to the error.
func (e *Error) AddDetail(m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	e.details = append(e.details, &ErrorDetail{typeName: string(m.ProtoReflect().Descriptor().FullName()), value: b})
	return nil
}

// Details returns the attached details.
func (e *Error) Details() []*ErrorDetail { return e.details }

// Type returns the detail's fully-qualified message name.
func (d *ErrorDetail) Type() string { return d.typeName }

// Value decodes the detail into a new message of its type, which must be
// linked into the program.
func (d *ErrorDetail) Value() (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(d.typeName))
	if err != nil {
		return nil, err
	}
	m := mt.New().Interface()
	return m, proto.Unmarshal(d.value, m)
}

// wireStatus is an error as it travels in an ack.
type wireStatus struct {
	Code    string       `json:"code"`
	Message string       `json:"message,omitempty"`
	Details []wireDetail `json:"details,omitempty"`
}

type wireDetail struct {
	Type  string `json:"type"`
	Value string `json:"value"` // standard base64
}

// statusOf turns any error into its wire form.
func statusOf(err error) wireStatus {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		e = NewError(CodeOf(err), err)
	}
	w := wireStatus{Code: e.code.String(), Message: e.message}
	for _, d := range e.details {
		w.Details = append(w.Details, wireDetail{Type: d.typeName, Value: base64.StdEncoding.EncodeToString(d.value)})
	}
	return w
}

// errorOf turns a wire status back into an *Error.
func errorOf(w wireStatus) *Error {
	e := &Error{code: parseCode(w.Code), message: w.Message}
	for _, d := range w.Details {
		v, err := base64.StdEncoding.DecodeString(d.Value)
		if err == nil {
			e.details = append(e.details, &ErrorDetail{typeName: d.Type, value: v})
		}
	}
	return e
}

// RefuseConnection returns the error for a namespace middleware to refuse
// a connection with a status code: typed clients fail their calls with
// code (say CodeUnauthenticated or CodePermissionDenied) and the message,
// instead of CodeUnavailable. On the wire it is a connect_error whose data
// is {"code": "<code name>"}.
func RefuseConnection(code Code, format string, args ...any) error {
	return &socketio.ConnectError{Message: fmt.Sprintf(format, args...), Data: map[string]string{"code": code.String()}}
}
