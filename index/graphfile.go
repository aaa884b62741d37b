package index

import (
	"encoding/binary"
	"io"
)

// Graph file sections.
var (
	tagGraphHeader = tag("GHDR") // n, M, efConstruction, entry, top level, metric (u32 each), seed (u64)
	tagLevels      = tag("LVLS") // one byte per node
	tagLinks0      = tag("LNK0") // per node: count, 2M ids (u32)
	tagLinksUpper  = tag("LNKU") // per node with level L > 0, levels 1..L: count, M ids (u32)
)

const graphHeaderSize = 32

// maxM bounds M so a hostile header cannot ask for huge link arrays.
const maxM = 512

func writeGraph(w io.Writer, g *graph) error {
	cw := newContainerWriter(w, kindGraph)
	h := make([]byte, graphHeaderSize)
	binary.LittleEndian.PutUint32(h[0:], uint32(g.len()))
	binary.LittleEndian.PutUint32(h[4:], uint32(g.m))
	binary.LittleEndian.PutUint32(h[8:], uint32(g.efC))
	binary.LittleEndian.PutUint32(h[12:], g.entry)
	binary.LittleEndian.PutUint32(h[16:], uint32(g.top))
	binary.LittleEndian.PutUint32(h[20:], uint32(g.metric))
	binary.LittleEndian.PutUint64(h[24:], g.seed)
	cw.section(tagGraphHeader, h)
	cw.section(tagLevels, g.levels)
	cw.uint32s(tagLinks0, g.l0)
	cw.begin(tagLinksUpper)
	for i, up := range g.upper {
		if g.levels[i] > 0 {
			writeU32s(cw, up)
		}
	}
	cw.end()
	return cw.finish()
}

func writeU32s(w io.Writer, v []uint32) {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[i*4:], x)
		}
		w.Write(buf[:n*4])
		v = v[n:]
	}
}

// readGraph decodes and fully validates a graph over n vectors of width
// dim, so that searching it can never index out of range.
func readGraph(c *container, n, dim int, mt metric) (*graph, error) {
	h, err := c.bytes(tagGraphHeader)
	if err != nil {
		return nil, err
	}
	if len(h) != graphHeaderSize {
		return nil, corrupt(c.name, "graph header has %d bytes, want %d", len(h), graphHeaderSize)
	}
	gn := int(binary.LittleEndian.Uint32(h[0:]))
	m := int(binary.LittleEndian.Uint32(h[4:]))
	efC := int(binary.LittleEndian.Uint32(h[8:]))
	entry := binary.LittleEndian.Uint32(h[12:])
	top := int(binary.LittleEndian.Uint32(h[16:]))
	gm := metric(binary.LittleEndian.Uint32(h[20:]))
	seed := binary.LittleEndian.Uint64(h[24:])
	switch {
	case gn != n:
		return nil, corrupt(c.name, "graph has %d nodes, the segments hold %d vectors", gn, n)
	case m < 2 || m > maxM:
		return nil, corrupt(c.name, "graph M = %d is out of range [2, %d]", m, maxM)
	case efC < 1 || efC > 1<<20:
		return nil, corrupt(c.name, "graph efConstruction = %d is out of range", efC)
	case gm != mt:
		return nil, corrupt(c.name, "graph metric %d does not match the manifest's (%d)", gm, mt)
	case top > maxLevel:
		return nil, corrupt(c.name, "graph top level %d exceeds %d", top, maxLevel)
	}
	g := newGraph(dim, m, efC, mt, seed)
	if l, err := c.length(tagLevels); err != nil {
		return nil, err
	} else if l != uint64(n) {
		return nil, corrupt(c.name, "levels section has %d bytes, want %d", l, n)
	}
	if g.levels, err = c.bytes(tagLevels); err != nil {
		return nil, err
	}
	upperLen := uint64(0)
	for i, l := range g.levels {
		if int(l) > top {
			return nil, corrupt(c.name, "node %d has level %d above the top level %d", i, l, top)
		}
		upperLen += uint64(l) * uint64(m+1)
	}
	switch {
	case n == 0 && entry != noNode:
		return nil, corrupt(c.name, "empty graph has entry point %d", entry)
	case n > 0 && (entry >= uint32(n) || int(g.levels[entry]) != top):
		return nil, corrupt(c.name, "entry point %d is not a node of the top level %d", entry, top)
	}
	g.entry, g.top = entry, top
	if l, err := c.length(tagLinks0); err != nil {
		return nil, err
	} else if l != uint64(n)*uint64(g.m0+1)*4 {
		return nil, corrupt(c.name, "level-0 links have %d bytes, want %d", l, uint64(n)*uint64(g.m0+1)*4)
	}
	g.l0 = make([]uint32, n*(g.m0+1))
	if err := c.uint32s(tagLinks0, g.l0); err != nil {
		return nil, err
	}
	if l, err := c.length(tagLinksUpper); err != nil {
		return nil, err
	} else if l != upperLen*4 {
		return nil, corrupt(c.name, "upper-level links have %d bytes, want %d", l, upperLen*4)
	}
	flat := make([]uint32, upperLen)
	if err := c.uint32s(tagLinksUpper, flat); err != nil {
		return nil, err
	}
	g.upper = make([][]uint32, n)
	for i, l := range g.levels {
		if l > 0 {
			k := int(l) * (m + 1)
			g.upper[i], flat = flat[:k:k], flat[k:]
		}
	}
	for i := range n {
		for lc := 0; lc <= int(g.levels[i]); lc++ {
			capacity := m
			if lc == 0 {
				capacity = g.m0
			}
			l := g.links(uint32(i), lc)
			if int(l[0]) > capacity {
				return nil, corrupt(c.name, "node %d has %d links at level %d, more than %d", i, l[0], lc, capacity)
			}
			for _, nb := range l[1 : 1+l[0]] {
				if nb >= uint32(n) || int(g.levels[nb]) < lc {
					return nil, corrupt(c.name, "node %d links to %d, not a node of level %d", i, nb, lc)
				}
			}
		}
	}
	return g, nil
}
