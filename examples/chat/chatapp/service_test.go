package chatapp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// chatURL serves the chat built with options for the length of t.
func chatURL(t *testing.T, options ...Option) string {
	t.Helper()
	srv, handler, err := New(nil, options...)
	if err != nil {
		t.Fatal(err)
	}
	return siotest.Serve(t, handler, srv).URL
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// person is one browser tab, as a Go client: its socket and the typed
// client on it.
type person struct {
	s    *sioclient.Socket
	chat *chatv1sio.ChatServiceClient
}

func connect(t *testing.T, url string) person {
	t.Helper()
	s, err := sioclient.Connect(timeout(t, 10*time.Second), url+chatv1sio.ChatServiceNamespace,
		&sioclient.Options{Transports: []string{engineio.TransportWebSocket}, DisableReconnection: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Manager().Close() })
	return person{s, chatv1sio.NewChatServiceClient(rpc.NewClientConn(s))}
}

func (p person) join(t *testing.T, room, user string) []string {
	t.Helper()
	res, err := p.chat.Join(timeout(t, 10*time.Second), &chatv1.JoinRequest{Room: room, User: user})
	if err != nil {
		t.Fatalf("join %s as %s: %v", room, user, err)
	}
	return res.GetMembers()
}

func (p person) say(t *testing.T, room, text string) uint64 {
	t.Helper()
	res, err := p.chat.SendMessage(timeout(t, 10*time.Second), &chatv1.SendMessageRequest{Room: room, Text: text})
	if err != nil {
		t.Fatalf("say %q: %v", text, err)
	}
	return res.GetId()
}

func (p person) watch(t *testing.T, room string) *rpc.Stream[*chatv1.WatchRoomResponse] {
	t.Helper()
	st, err := p.chat.WatchRoom(timeout(t, 20*time.Second), &chatv1.WatchRoomRequest{Room: room})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// recv returns st's next update, failing t if none comes within 10s.
func recv(t *testing.T, st *rpc.Stream[*chatv1.WatchRoomResponse]) *chatv1.WatchRoomResponse {
	t.Helper()
	stall := time.AfterFunc(10*time.Second, func() { st.Close() })
	defer stall.Stop()
	u, err := st.Recv()
	if err != nil {
		t.Fatalf("stream: %v (nothing within 10s?)", err)
	}
	return u
}

// nextSaid returns the next message a person sent on st, skipping notices.
func nextSaid(t *testing.T, st *rpc.Stream[*chatv1.WatchRoomResponse]) *chatv1.ChatMessage {
	t.Helper()
	for {
		if m := recv(t, st).GetMessage(); m.GetUser() != "" {
			return m
		}
	}
}

// answerConfirm makes p's client side answer every Confirm with yes, or
// hand the question to ask and answer nothing.
func answerConfirm(p person, yes bool, ask chan<- string) {
	p.s.Off(chatv1sio.ChatClientServiceConfirmEvent)
	p.s.On(chatv1sio.ChatClientServiceConfirmEvent, func(_ *sioclient.Socket, args sioclient.Args, ack sioclient.Ack) {
		b, _ := args.Bytes(0)
		req := &chatv1.ConfirmRequest{}
		_ = proto.Unmarshal(b, req)
		if ask != nil {
			ask <- req.GetQuestion()
			return
		}
		out, _ := proto.Marshal(&chatv1.ConfirmResponse{Confirmed: yes})
		_ = ack(out)
	})
}

// TestHistoryReplayedToLaterSubscribers: the last messages of a room reach
// whoever subscribes later, oldest first and before live ones; notices and
// other rooms' messages are not among them.
func TestHistoryReplayedToLaterSubscribers(t *testing.T) {
	url := chatURL(t, WithHistory(3, 10))
	ann := connect(t, url)
	ann.join(t, "lobby", "ann")
	var ids []uint64
	for i := range 5 {
		ids = append(ids, ann.say(t, "lobby", fmt.Sprint("message ", i)))
	}
	other := connect(t, url)
	other.join(t, "kitchen", "cook")
	other.say(t, "kitchen", "elsewhere")

	bob := connect(t, url)
	feed := bob.watch(t, "lobby")
	for i := 2; i < 5; i++ {
		m := recv(t, feed).GetMessage()
		if m.GetId() != ids[i] || m.GetText() != fmt.Sprint("message ", i) || m.GetUser() != "ann" || m.GetSentUnixMs() == 0 {
			t.Fatalf("history %d: %v", i, m)
		}
	}
	live := ann.say(t, "lobby", "live")
	if m := nextSaid(t, feed); m.GetId() != live {
		t.Errorf("after the history came %v, want the live message %d", m, live)
	}
}

// TestHistoryForgetsTheQuietestRoom: history is kept for a bounded number
// of rooms.
func TestHistoryForgetsTheQuietestRoom(t *testing.T) {
	h := newHistory(2, 2)
	for _, room := range []string{"a", "b", "a", "c"} {
		h.add(&chatv1.ChatMessage{Room: room, User: "u", Text: room})
	}
	if len(h.recent("b")) != 0 || len(h.recent("a")) != 2 || len(h.recent("c")) != 1 {
		t.Errorf("a=%v b=%v c=%v", h.recent("a"), h.recent("b"), h.recent("c"))
	}
}

// TestSameNameGetsANumber: two people asking for one name in one room are
// told apart; the name is free again once its holder leaves, and asking
// again for a numbered name keeps it.
func TestSameNameGetsANumber(t *testing.T) {
	url := chatURL(t)
	first, second := connect(t, url), connect(t, url)
	if got := first.join(t, "lobby", "ann"); strings.Join(got, ",") != "ann" {
		t.Fatalf("first: %v", got)
	}
	if got := second.join(t, "lobby", " ann "); strings.Join(got, ",") != "ann (2),ann" {
		t.Fatalf("second: %v (the caller comes first)", got)
	}
	feed := first.watch(t, "lobby")
	second.say(t, "lobby", "which ann?")
	if m := nextSaid(t, feed); m.GetUser() != "ann (2)" {
		t.Errorf("message from %q, want ann (2)", m.GetUser())
	}
	// Joining again under the name it was given keeps it.
	if got := second.join(t, "lobby", "ann (2)"); got[0] != "ann (2)" || len(got) != 2 {
		t.Errorf("rejoin: %v", got)
	}
	// Someone else asking for "ann (2)" gets the next number, not "ann (2) (2)".
	third := connect(t, url)
	if got := third.join(t, "lobby", "ann (2)"); got[0] != "ann (3)" {
		t.Errorf("third: %v", got)
	}
	// Another room has its own names.
	if got := connect(t, url).join(t, "kitchen", "ann"); got[0] != "ann" {
		t.Errorf("other room: %v", got)
	}
	first.s.Disconnect()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := connect(t, url).join(t, "lobby", "ann")
		if got[0] == "ann" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the name stayed taken after its holder left: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	long := strings.Repeat("é", maxNameLen/2)
	connect(t, url).join(t, "lobby", long)
	if got := connect(t, url).join(t, "lobby", long); len(got[0]) > maxNameLen || !strings.HasSuffix(got[0], " (2)") {
		t.Errorf("numbered long name %q (%d bytes)", got[0], len(got[0]))
	}
}

// TestBadNames: names and messages are checked, with clear errors.
func TestBadNames(t *testing.T) {
	p := connect(t, chatURL(t))
	for _, tc := range []struct{ room, user, want string }{
		{"", "ann", "room is required"},
		{"lobby", "  ", "user is required"},
		{"lobby", strings.Repeat("x", maxNameLen+1), "user is longer than 32 characters"},
		{"lobby", "ann\nbob", "user contains control characters"},
	} {
		_, err := p.chat.Join(timeout(t, 10*time.Second), &chatv1.JoinRequest{Room: tc.room, User: tc.user})
		if rpc.CodeOf(err) != rpc.CodeInvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("join %q as %q: %v, want %q", tc.room, tc.user, err, tc.want)
		}
	}
	_, err := p.chat.SendMessage(timeout(t, 10*time.Second), &chatv1.SendMessageRequest{Room: "lobby", Text: "hi"})
	if rpc.CodeOf(err) != rpc.CodeFailedPrecondition {
		t.Errorf("send before joining: %v", err)
	}
}

func TestMentionsEveryone(t *testing.T) {
	for text, want := range map[string]bool{
		"@everyone lunch": true, "lunch, @all?": true, "(@here)": true, "hey @Room": true,
		"@allison": false, "mail@all.example": false, "everyone": false, "@@all": false, "@everyone_else": false,
	} {
		if got := mentionsEveryone(text); got != want {
			t.Errorf("mentionsEveryone(%q) = %v", text, got)
		}
	}
}

// TestMassMentionNeedsConfirmation: a message calling on everyone is sent
// only if its sender's page answers yes; a no, no answer in time, or a page
// that disconnects while asked all leave it unsent.
func TestMassMentionNeedsConfirmation(t *testing.T) {
	url := chatURL(t, WithConfirmTimeout(300*time.Millisecond))
	watcher := connect(t, url)
	watcher.join(t, "lobby", "watcher")
	feed := watcher.watch(t, "lobby")
	sender := connect(t, url)
	sender.join(t, "lobby", "ann")

	answerConfirm(sender, true, nil)
	id := sender.say(t, "lobby", "@everyone cake!")
	if m := nextSaid(t, feed); m.GetId() != id {
		t.Fatalf("confirmed message: got %v", m)
	}

	answerConfirm(sender, false, nil)
	_, err := sender.chat.SendMessage(timeout(t, 10*time.Second), &chatv1.SendMessageRequest{Room: "lobby", Text: "@all declined"})
	if rpc.CodeOf(err) != rpc.CodeAborted || !strings.Contains(err.Error(), "you chose not to") {
		t.Errorf("declined: %v", err)
	}

	asked := make(chan string, 1)
	answerConfirm(sender, false, asked)
	_, err = sender.chat.SendMessage(timeout(t, 10*time.Second), &chatv1.SendMessageRequest{Room: "lobby", Text: "@here unanswered"})
	if rpc.CodeOf(err) != rpc.CodeAborted || !strings.Contains(err.Error(), "no answer") {
		t.Errorf("unanswered: %v", err)
	}
	if q := <-asked; !strings.Contains(q, "1 other person in #lobby") {
		t.Errorf("question %q", q)
	}

	// The page goes away while asked: its connection closes mid-question.
	leaver := connect(t, url)
	leaver.join(t, "lobby", "bea")
	leaver.s.On(chatv1sio.ChatClientServiceConfirmEvent, func(s *sioclient.Socket, _ sioclient.Args, _ sioclient.Ack) {
		go s.Disconnect()
	})
	_, err = leaver.chat.SendMessage(timeout(t, 10*time.Second), &chatv1.SendMessageRequest{Room: "lobby", Text: "@room bye"})
	if err == nil {
		t.Error("a page that disconnected while asked was told its message was sent")
	}
	for {
		if m := recv(t, feed).GetMessage(); m.GetUser() != "" {
			t.Fatalf("an unconfirmed message was published: %v", m)
		} else if m.GetText() == "bea left" {
			break
		}
	}

	// None of the unconfirmed messages was published: the next message the
	// watcher sees from a person is one sent after all of them.
	last := watcher.say(t, "lobby", "after the refusals")
	if m := nextSaid(t, feed); m.GetId() != last {
		t.Errorf("an unconfirmed message was published: %v", m)
	}
}

// TestTyping: each page's Typing stream hears who else in its room types,
// when that changes; a message sent, a room left, a stream ended all stop
// the typing; rooms do not hear each other.
func TestTyping(t *testing.T) {
	url := chatURL(t)
	ann, bob, cat := connect(t, url), connect(t, url), connect(t, url)
	ann.join(t, "lobby", "ann")
	bob.join(t, "lobby", "bob")
	cat.join(t, "garden", "cat")
	open := func(p person) *rpc.BidiStreamCall[*chatv1.TypingRequest, *chatv1.TypingResponse] {
		st, err := p.chat.Typing(timeout(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	next := func(who string, st *rpc.BidiStreamCall[*chatv1.TypingRequest, *chatv1.TypingResponse], want string) {
		t.Helper()
		res, err := st.Receive()
		if err != nil {
			t.Fatalf("%s's Typing stream: %v", who, err)
		}
		if got := strings.Join(res.GetTyping(), ","); got != want {
			t.Fatalf("%s hears %q typing, want %q", who, got, want)
		}
	}
	annT, bobT, catT := open(ann), open(bob), open(cat)
	next("ann", annT, "")
	next("bob", bobT, "")
	next("cat", catT, "")

	if err := annT.Send(&chatv1.TypingRequest{Typing: true}); err != nil {
		t.Fatal(err)
	}
	next("bob", bobT, "ann")
	if err := bobT.Send(&chatv1.TypingRequest{Typing: true}); err != nil {
		t.Fatal(err)
	}
	next("ann", annT, "bob") // no one hears himself: bob hears nothing new
	// A message sent ends its sender's typing.
	ann.say(t, "lobby", "hi")
	next("bob", bobT, "")
	// Ending the stream ends the typing.
	if err := bobT.CloseRequest(); err != nil {
		t.Fatal(err)
	}
	next("ann", annT, "")
	if _, err := bobT.Receive(); err == nil {
		t.Fatal("bob's stream goes on after he closed it")
	}
	// Moving to another room: the old room stops hearing, the new one's
	// typists are heard.
	if err := catT.Send(&chatv1.TypingRequest{Typing: true}); err != nil {
		t.Fatal(err)
	}
	if err := annT.Send(&chatv1.TypingRequest{Typing: true}); err != nil {
		t.Fatal(err)
	}
	ann.join(t, "garden", "ann") // stops ann's typing in the lobby
	next("ann", annT, "cat")
	if err := annT.Send(&chatv1.TypingRequest{Typing: true}); err != nil {
		t.Fatal(err)
	}
	// The first change cat hears is ann typing in the garden: nothing of
	// her typing in the lobby reached it.
	next("cat", catT, "ann")
	_ = annT.CloseRequest()
	_ = catT.CloseRequest()
}
