package clusteradapter

import (
	"slices"
	"time"
)

// scheduleHeartbeat puts this node's next heartbeat one interval after
// now: any message shows the node alive, so a busy node never beats.
func (a *Adapter) scheduleHeartbeat() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	if a.beat != nil {
		a.beat.Reset(a.opts.Heartbeat.Interval)
		return
	}
	a.beat = time.AfterFunc(a.opts.Heartbeat.Interval, func() {
		if a.ctx.Err() == nil {
			a.send(&Message{Type: Heartbeat})
		}
	})
}

// expireNodes forgets, every second or so, the nodes silent for longer
// than the heartbeat timeout, until Close.
func (a *Adapter) expireNodes() {
	ticker := time.NewTicker(min(time.Second, a.opts.Heartbeat.Timeout/2))
	defer ticker.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-ticker.C:
			var gone []string
			a.mu.Lock()
			for uid, seen := range a.nodes {
				if now.Sub(seen) > a.opts.Heartbeat.Timeout {
					gone = append(gone, uid)
				}
			}
			a.mu.Unlock()
			for _, uid := range gone {
				a.log.Debug("clusteradapter: node seems down", "nsp", a.host.Name(), "node", uid)
				a.removeNode(uid)
			}
		}
	}
}

// removeNode forgets node uid, and stops waiting for its answers.
func (a *Adapter) removeNode(uid string) {
	a.mu.Lock()
	delete(a.nodes, uid)
	a.mu.Unlock()
	a.reqs.forget(uid)
}

// knownNodes returns the other nodes heard from recently.
func (a *Adapter) knownNodes() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	nodes := make([]string, 0, len(a.nodes))
	for uid := range a.nodes {
		nodes = append(nodes, uid)
	}
	slices.Sort(nodes)
	return nodes
}
