package growth

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The chart's geometry, in pixels.
const (
	width      = 760
	height     = 380
	plotLeft   = 80
	plotRight  = width - 40
	plotTop    = 64
	plotBottom = height - 56
)

// Chart is the curve's SVG: its cost against size, sizes on a logarithmic
// axis (they grow by factors), the cost on a linear one from zero, so that
// a flat cost is a level line and growth is not hidden by the scale. Each
// point is labelled with its cost and its ratio to the first point's.
// It returns "" if no size has a cost.
func (c Curve) Chart(rows []Row) string {
	var xs, ys []float64
	for _, p := range c.points(rows) {
		if v := p.Num(c.Cost.Key); v > 0 {
			xs, ys = append(xs, p.Num("x")), append(ys, v)
		}
	}
	if len(xs) == 0 {
		return ""
	}
	lo, hi := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if hi-lo < 1 {
		hi = lo + 1
	}
	x := func(v float64) float64 {
		// Inset from the axes, so that the end points' labels clear the
		// axis figures.
		return plotLeft + 60 + (math.Log10(v)-lo)/(hi-lo)*(plotRight-plotLeft-110)
	}
	top := niceCeil(1.2 * slicesMax(ys))
	y := func(v float64) float64 { return plotBottom - v/top*(plotBottom-plotTop) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#555555">%s; each point: the cost and its ratio to the first point's</text>`+"\n", html.EscapeString(c.Cost.Label))
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", plotLeft, y(v), plotRight, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", plotLeft-6, y(v)+4, trimFloat(v))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
	var path []string
	for i := range xs {
		path = append(path, fmt.Sprintf("%.1f,%.1f", x(xs[i]), y(ys[i])))
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#3b7dd8" stroke-width="2"/>`+"\n", strings.Join(path, " "))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999999" stroke-dasharray="4 4"><title>the first point's cost: flat</title></line>`+"\n", x(xs[0]), y(ys[0]), x(xs[len(xs)-1]), y(ys[0]))
	for i := range xs {
		px, py := x(xs[i]), y(ys[i])
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#3b7dd8"/>`+"\n", px, py)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s (%s)</text>`+"\n", px, py-10, fmtNum(ys[i], c.Cost.Digits), fmtRatio(ys[i]/ys[0]))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555555">%s</text>`+"\n", px, plotBottom+18, fmtInt(xs[i]))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#333333">%s (logarithmic)</text>`+"\n", (plotLeft+plotRight)/2, plotBottom+40, html.EscapeString(c.X))
	b.WriteString("</svg>\n")
	return b.String()
}

func slicesMax(vs []float64) float64 {
	m := vs[0]
	for _, v := range vs {
		m = math.Max(m, v)
	}
	return m
}

// niceCeil is the smallest 1, 2, 2.5 or 5 times a power of ten at or
// above v: a round top for the axis.
func niceCeil(v float64) float64 {
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if d*m >= v {
			return d * m
		}
	}
	return 10 * d
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
