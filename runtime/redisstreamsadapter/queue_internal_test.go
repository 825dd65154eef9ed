package redisstreamsadapter

import "encoding/json"

// queuedBytes returns how many entries and bytes a's append queue holds.
func queuedBytes(a *Adapter) (int, int) { return a.hub.pub.queued() }

// queuedTicks returns the numbers of the "tick" broadcasts a's append
// queue holds, in its order.
func queuedTicks(a *Adapter) []int {
	var out []int
	for _, e := range a.hub.pub.q.Items() {
		data, _ := e.values["data"].(string)
		var d struct {
			Packet struct {
				Data []json.RawMessage `json:"data"`
			} `json:"packet"`
		}
		if json.Unmarshal([]byte(data), &d) != nil || len(d.Packet.Data) < 2 || string(d.Packet.Data[0]) != `"tick"` {
			continue
		}
		var n int
		_ = json.Unmarshal(d.Packet.Data[1], &n)
		out = append(out, n)
	}
	return out
}
