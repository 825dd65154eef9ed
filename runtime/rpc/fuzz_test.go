package rpc_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
)

// wireCodes are the status code names a server may answer with.
var wireCodes = map[string]bool{
	"canceled": true, "unknown": true, "invalid_argument": true, "deadline_exceeded": true,
	"not_found": true, "already_exists": true, "permission_denied": true, "resource_exhausted": true,
	"failed_precondition": true, "aborted": true, "out_of_range": true, "unimplemented": true,
	"internal": true, "unavailable": true, "data_loss": true, "unauthenticated": true,
}

// FuzzCallArguments calls the example service's methods, as a plain
// Socket.IO client may, with arbitrary request bytes and metadata: every
// call must be answered, in time, with a response or a status whose code
// is one of the wire's.
func FuzzCallArguments(f *testing.F) {
	join, _ := proto.Marshal(&chatv1.JoinRequest{Room: "r", User: "u"})
	f.Add(uint8(0), join, `{}`, true)
	f.Add(uint8(0), join, `{"timeoutMs":1000,"headers":{"x-tag":"t"}}`, true)
	f.Add(uint8(0), []byte{0x0a, 0xff}, `{}`, true)
	f.Add(uint8(1), []byte{}, ``, false)
	f.Add(uint8(2), []byte{0x0a, 0x01, 'r'}, `{"timeoutMs":-1}`, true)
	f.Add(uint8(3), []byte{}, `{"timeoutMs":99999999999999999}`, true)
	f.Add(uint8(0), join, `{"headers":{"a":1}}`, true)
	f.Add(uint8(0), join, `[]`, true)

	fx := newFixture(f)
	s := fx.dial(f, nil)
	events := []string{
		chatv1sio.ChatServiceJoinEvent,
		chatv1sio.ChatServiceSendMessageEvent,
		chatv1sio.ChatServiceWatchRoomEvent,
		"example.chat.v1.ChatService/Nope",
	}
	f.Fuzz(func(t *testing.T, method uint8, request []byte, meta string, withMeta bool) {
		event := events[int(method)%len(events)]
		// The fixture's Join asks the caller to confirm "confirm-me",
		// which this client does not implement, and its SendMessage
		// "slow" waits for its context to end: both wait for the caller.
		var join chatv1.JoinRequest
		if event == chatv1sio.ChatServiceJoinEvent && proto.Unmarshal(request, &join) == nil && join.GetUser() == "confirm-me" {
			return
		}
		var send chatv1.SendMessageRequest
		if event == chatv1sio.ChatServiceSendMessageEvent && proto.Unmarshal(request, &send) == nil && send.GetText() == "slow" {
			return
		}
		args := []any{request}
		if withMeta {
			// Text that is not UTF-8 closes the connection (close 1007,
			// as the reference does), so it is no call to fuzz here.
			if !json.Valid([]byte(meta)) || !utf8.ValidString(meta) {
				return
			}
			args = append(args, json.RawMessage(meta))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reply, err := s.EmitWithAck(ctx, event, args...)
		if err != nil {
			t.Fatalf("%s %x %s: %v", event, request, meta, err)
		}
		if _, ok := reply.Bytes(0); ok {
			return // a response
		}
		var status struct {
			Code   string `json:"code"`
			Stream string `json:"stream"`
		}
		if err := reply.Decode(0, &status); err != nil || (status.Stream == "" && !wireCodes[status.Code]) {
			t.Fatalf("%s %x %s: reply %s", event, request, meta, reply)
		}
		if status.Stream != "" {
			_ = s.Emit("sio:stream:cancel", status.Stream)
		}
	})
}
