package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	chatv1 "github.com/sio-dev/sio/gen/go/example/chat/v1"
	"github.com/sio-dev/sio/gen/go/example/chat/v1/chatv1sio"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/rpc"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// goClient is the rpc scenario made by the generated Go client
// (ChatService.SendMessage over sioclient) instead of raw frames: calls
// per second, and the CPU time per call of this process (the client: the
// generated stub, the RPC layer, sioclient, engineio) beside the server's
// (given -pid), which is how the two are compared.
func goClient(cfg config) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	var clients []*chatv1sio.ChatServiceClient
	var managers []*sioclient.Manager
	defer func() {
		for _, m := range managers {
			m.Close()
		}
	}()
	for i := range cfg.clients {
		s, err := sioclient.Connect(ctx, cfg.node(i)+chatv1sio.ChatServiceNamespace,
			&sioclient.Options{Transports: []string{engineio.TransportWebSocket}}, nil)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		managers = append(managers, s.Manager())
		clients = append(clients, chatv1sio.NewChatServiceClient(rpc.NewClientConn(s)))
	}
	req := &chatv1.SendMessageRequest{Room: "lobby", User: "bench", Text: "hello"}

	var calls atomic.Int64
	var firstErr firstError
	selfBefore, serverBefore := selfCPU(), processCPU(cfg.pids)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		for range cfg.inflight {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					res, err := c.SendMessage(ctx, req)
					if err != nil {
						firstErr.set(err)
						return
					}
					if res.GetId() != 5 {
						firstErr.set(fmt.Errorf("%w: id %d", errBadReply, res.GetId()))
						return
					}
					calls.Add(1)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	selfAfter, serverAfter := selfCPU(), processCPU(cfg.pids)
	if err := firstErr.get(); err != nil {
		return nil, err
	}
	n := calls.Load()
	res := map[string]any{
		"clients":                cfg.clients,
		"calls":                  n,
		"per_second":             float64(n) / elapsed.Seconds(),
		"client_cpu_us_per_call": float64((selfAfter - selfBefore).Microseconds()) / float64(n),
	}
	if len(cfg.pids) > 0 {
		res["server_cpu_us_per_call"] = float64((serverAfter - serverBefore).Microseconds()) / float64(n)
	}
	return res, nil
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the user and system CPU time of processes pids together
// (from /proc); an unreadable one counts zero.
func processCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		sum += cpuOf(pid)
	}
	return sum
}

func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th of them.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * time.Second / clockTicks
}

// processWrites is how many write system calls processes pids have made
// (syscw of /proc/<pid>/io), 0 where it cannot be read.
func processWrites(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "syscw: "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				sum += n
			}
		}
	}
	return sum
}

// clockTicks is the kernel's USER_HZ, in which /proc reports CPU time: 100
// on every Linux architecture Go supports.
const clockTicks = 100
