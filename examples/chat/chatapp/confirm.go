package chatapp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio"
)

// massMention matches a mention of the whole room: @everyone, @all, @here
// or @room, as a word of its own.
var massMention = regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}_@])@(everyone|all|here|room)\b`)

// mentionsEveryone reports whether text calls on the whole room.
func mentionsEveryone(text string) bool { return massMention.MatchString(text) }

// confirmMassMention asks the sender's page, through the ChatClientService
// it serves, whether it really means to call on everyone in room. It
// returns nil only for a yes. No answer within timeout, a page that
// disconnects or fails to answer, all count as no: the error says which,
// for the sender to read.
func confirmMassMention(ctx context.Context, s *socketio.Socket, room string, others int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := chatv1sio.NewChatClientServiceCaller(s).Confirm(ctx, &chatv1.ConfirmRequest{
		Question: fmt.Sprintf("Your message mentions everyone: it calls on %s in #%s. Send it?", people(others), room),
	})
	switch {
	case err == nil && res.GetConfirmed():
		return nil
	case err == nil:
		return rpc.Errorf(rpc.CodeAborted, "not sent: you chose not to call on everyone")
	case rpc.CodeOf(err) == rpc.CodeDeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		return rpc.Errorf(rpc.CodeAborted, "not sent: no answer to the confirmation within %v", timeout)
	default:
		return rpc.Errorf(rpc.CodeAborted, "not sent: the confirmation failed (%v)", err)
	}
}

// people says how many other people there are, in words.
func people(n int) string {
	switch n {
	case 0:
		return "nobody else (yet)"
	case 1:
		return "1 other person"
	}
	return fmt.Sprintf("%d other people", n)
}
