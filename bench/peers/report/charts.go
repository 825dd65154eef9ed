package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// chartNames are the charts Charts returns, in order.
var chartNames = []struct{ file, alt string }{
	{"socketio.svg", "How many times better sio is than each peer, per Socket.IO scenario"},
	{"typed.svg", "How many times better sio's typed unary calls are than connect-go's"},
}

// Chart is one SVG file.
type Chart struct {
	File string
	SVG  string
}

// series is one peer's bars; group is one metric's.
type series struct {
	name, color string
}

type group struct {
	label  string
	values []float64 // one per series; NaN: no bar
}

// Charts draws the ratios of a run: for each metric, how many times better
// ours is than each peer (peer ÷ ours where lower is better), on a
// logarithmic axis centred on parity.
func Charts(r *Results, o Options) []Chart {
	colors := []string{"#3b7dd8", "#8a8a8a", "#d8823b"}
	var ss []series
	for i, p := range Peers {
		ss = append(ss, series{p.Name, colors[i%len(colors)]})
	}
	var gs []group
	for _, m := range SocketIO(o.Loaded) {
		g := group{label: m.Short}
		ours := r.value(Ours.ID, m, m.Key)
		for _, p := range Peers {
			g.values = append(g.values, Advantage(m, ours.v, r.value(p.ID, m, m.Key).v))
		}
		gs = append(gs, g)
	}
	var typed []group
	var typedSeries []series
	for i, sc := range TypedScenarios {
		typedSeries = append(typedSeries, series{sc.Name, colors[(2+i)%len(colors)]})
	}
	for _, m := range Typed {
		g := group{label: m.Short}
		for _, sc := range TypedScenarios {
			g.values = append(g.values, Advantage(m, r.typed(TypedOurs.ID, "", m).v, r.typed(TypedPeer.ID, sc.ID, m).v))
		}
		typed = append(typed, g)
	}
	return []Chart{
		{chartNames[0].file, draw("sio (Go) against its peers, one run", "times better: ours ÷ peer for rates, peer ÷ ours for latency and memory", ss, gs)},
		{chartNames[1].file, draw("typed unary calls: sio against connect-go over h2c", "times better: sio ÷ connect-go for calls/s, connect-go ÷ sio for CPU per call", typedSeries, typed)},
	}
}

// The chart's geometry, in pixels.
const (
	chartWidth = 860
	labelWidth = 210
	valueRoom  = 70 // right of the plot, for the last bar's figure
	barHeight  = 13
	barGap     = 2
	groupGap   = 12
	top        = 74
)

// draw lays out a horizontal bar chart on a log axis: bars grow right of
// the 1× line where ours is better, left where it is worse.
func draw(title, subtitle string, ss []series, gs []group) string {
	lo, hi := 0.5, 2.0
	for _, g := range gs {
		for _, v := range g.values {
			if v > 0 && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	ticks := logTicks(lo, hi)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	plotLeft, plotRight := float64(labelWidth), float64(chartWidth-valueRoom)
	x := func(v float64) float64 {
		return plotLeft + (math.Log(v)-math.Log(lo))/(math.Log(hi)-math.Log(lo))*(plotRight-plotLeft)
	}
	groupHeight := len(ss)*(barHeight+barGap) - barGap
	height := top + len(gs)*(groupHeight+groupGap) + 30

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555555">%s</text>`+"\n", html.EscapeString(subtitle))
	lx := float64(labelWidth)
	for _, s := range ss {
		fmt.Fprintf(&b, `<rect x="%.1f" y="48" width="12" height="12" fill="%s"/><text x="%.1f" y="58">%s</text>`+"\n", lx, s.color, lx+16, html.EscapeString(s.name))
		lx += 16 + 7.5*float64(len(s.name)) + 24
	}
	bottom := float64(height - 26)
	for _, t := range ticks {
		stroke, w := "#dddddd", 1
		if math.Abs(t-1) < 1e-9 {
			stroke, w = "#333333", 2
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%d"/>`+"\n", x(t), top-6, x(t), bottom, stroke, w)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555555">%s</text>`+"\n", x(t), bottom+16, tickLabel(t))
	}
	y := top
	for _, g := range gs {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", labelWidth-8, float64(y)+float64(groupHeight)/2+4, html.EscapeString(g.label))
		for i, v := range g.values {
			by := y + i*(barHeight+barGap)
			if !(v > 0) || math.IsInf(v, 0) {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#999999">–</text>`+"\n", x(1)+4, by+barHeight-2)
				continue
			}
			x0, x1 := x(1), x(v)
			anchor, tx := "start", x1+4
			if v < 1 {
				x0, x1 = x1, x0
				anchor, tx = "end", x0-4
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s</title></rect>`+"\n",
				x0, by, math.Max(x1-x0, 1), barHeight, ss[i].color, html.EscapeString(ss[i].name), fmtRatio(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="11">%s</text>`+"\n", tx, by+barHeight-2, anchor, fmtRatio(v))
		}
		y += groupHeight + groupGap
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// logTicks are 1-2-5 steps from the last at or below lo to the first at
// or above hi.
func logTicks(lo, hi float64) []float64 {
	var ts []float64
	for d := math.Pow(10, math.Floor(math.Log10(lo))); len(ts) == 0 || ts[len(ts)-1] < hi*0.9999; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			t := d * m
			switch {
			case t <= lo*1.0001:
				ts = append(ts[:0], t)
			case len(ts) == 0 || ts[len(ts)-1] < hi*0.9999:
				ts = append(ts, t)
			}
		}
	}
	return ts
}

func tickLabel(t float64) string {
	if t < 1 {
		return strconv.FormatFloat(t, 'g', 3, 64) + "×"
	}
	return strconv.FormatFloat(t, 'f', 0, 64) + "×"
}
