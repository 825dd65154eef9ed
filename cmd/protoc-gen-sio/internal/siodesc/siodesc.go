// Package siodesc reads what protoc-gen-sio needs from descriptors: the
// sio.v1 options with their defaults, and which methods can be mapped.
// Both emitters use it, so Go and TypeScript agree on every event name.
package siodesc

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	siov1 "github.com/sio-dev/sio/gen/go/sio/v1"
)

// Namespace returns the service's namespace option, "/" by default.
func Namespace(s protoreflect.ServiceDescriptor) string {
	if ns, _ := proto.GetExtension(s.Options(), siov1.E_Namespace).(string); ns != "" {
		return ns
	}
	return "/"
}

// ClientSide reports whether the client implements the service.
func ClientSide(s protoreflect.ServiceDescriptor) bool {
	b, _ := proto.GetExtension(s.Options(), siov1.E_ClientSide).(bool)
	return b
}

// Event returns the method's event name: the event option, or
// "<package>.<Service>/<Method>".
func Event(m protoreflect.MethodDescriptor) string {
	if ev, _ := proto.GetExtension(m.Options(), siov1.E_Event).(string); ev != "" {
		return ev
	}
	return string(m.Parent().FullName()) + "/" + string(m.Name())
}

// Kind is how a method maps onto Socket.IO.
type Kind int

// Method kinds.
const (
	Unary            Kind = iota // an event answered in its ack
	ServerStream                 // a server stream as a room subscription
	CallServerStream             // a server stream of its own to its caller
	ClientStream                 // a client stream
	BidiStream                   // a bidirectional stream
)

// MethodKind classifies m, or explains why it cannot be generated. file is
// the .proto path, for the message.
func MethodKind(file string, m protoreflect.MethodDescriptor) (Kind, error) {
	svc := m.Parent().(protoreflect.ServiceDescriptor)
	streaming := m.IsStreamingClient() || m.IsStreamingServer()
	switch {
	case streaming && ClientSide(svc):
		return 0, fmt.Errorf("%s: method %s: a client_side service cannot have streaming methods", file, m.FullName())
	case m.IsStreamingClient() && m.IsStreamingServer():
		return BidiStream, nil
	case m.IsStreamingClient():
		return ClientStream, nil
	case m.IsStreamingServer():
		if kind, _ := proto.GetExtension(m.Options(), siov1.E_ServerStream).(siov1.ServerStreamKind); kind == siov1.ServerStreamKind_SERVER_STREAM_KIND_CALL {
			return CallServerStream, nil
		}
		return ServerStream, nil
	}
	if kind, _ := proto.GetExtension(m.Options(), siov1.E_ServerStream).(siov1.ServerStreamKind); kind != siov1.ServerStreamKind_SERVER_STREAM_KIND_UNSPECIFIED {
		return 0, fmt.Errorf("%s: method %s: the server_stream option is for server-streaming methods", file, m.FullName())
	}
	return Unary, nil
}

// CheckEvents reports two methods of a file that would share an event on
// the same namespace.
func CheckEvents(file string, services []protoreflect.ServiceDescriptor) error {
	seen := map[string]protoreflect.FullName{}
	for _, s := range services {
		ms := s.Methods()
		for i := range ms.Len() {
			m := ms.Get(i)
			key := Namespace(s) + " " + Event(m)
			if other, dup := seen[key]; dup {
				return fmt.Errorf("%s: methods %s and %s both use event %q on namespace %s", file, other, m.FullName(), Event(m), Namespace(s))
			}
			seen[key] = m.FullName()
		}
	}
	return nil
}
