package index

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"slices"
	"unicode/utf8"
)

// Segment file sections. A segment holds a run of documents added
// together; segments are never rewritten, only dropped by compaction.
var (
	tagSegHeader = tag("SHDR") // docs u32, dim u32, multi u32, vectors u64
	tagIDs       = tag("IDS ") // per doc: uvarint length, UTF-8 bytes
	tagTexts     = tag("TEXT") // same
	tagMeta      = tag("META") // same; a JSON object or empty
	tagNTok      = tag("NTOK") // ColBERT: token vectors per doc, u32
	tagVecs      = tag("VECS") // vectors × dim float32
)

const segHeaderSize = 20

// writeSegment writes slots [lo, hi) of st as one segment.
func writeSegment(w io.Writer, st *state, lo, hi int) error {
	cw := newContainerWriter(w, kindSegment)
	vlo, vhi := lo, hi
	if st.multi {
		vlo, vhi = int(st.tokOff[lo]), int(st.tokOff[hi])
	}
	h := make([]byte, segHeaderSize)
	binary.LittleEndian.PutUint32(h[0:], uint32(hi-lo))
	binary.LittleEndian.PutUint32(h[4:], uint32(st.dim))
	if st.multi {
		binary.LittleEndian.PutUint32(h[8:], 1)
	}
	binary.LittleEndian.PutUint64(h[12:], uint64(vhi-vlo))
	cw.section(tagSegHeader, h)
	cw.strings(tagIDs, hi-lo, func(i int) []byte { return []byte(st.ids[lo+i]) })
	cw.strings(tagTexts, hi-lo, func(i int) []byte { return []byte(st.texts[lo+i]) })
	cw.strings(tagMeta, hi-lo, func(i int) []byte { return st.meta[lo+i] })
	if st.multi {
		n := make([]uint32, hi-lo)
		for i := range n {
			n[i] = st.tokOff[lo+i+1] - st.tokOff[lo+i]
		}
		cw.uint32s(tagNTok, n)
	}
	cw.float32s(tagVecs, st.vecs[vlo*st.dim:vhi*st.dim])
	return cw.finish()
}

// readSegment appends a segment's documents and vectors to st, checking
// that it has the documents and vectors ref promises.
func readSegment(c *container, st *state, ref fileRef) error {
	h, err := c.bytes(tagSegHeader)
	if err != nil {
		return err
	}
	if len(h) != segHeaderSize {
		return corrupt(c.name, "segment header has %d bytes, want %d", len(h), segHeaderSize)
	}
	docs := int(binary.LittleEndian.Uint32(h[0:]))
	dim := int(binary.LittleEndian.Uint32(h[4:]))
	multi := binary.LittleEndian.Uint32(h[8:])
	vectors := binary.LittleEndian.Uint64(h[12:])
	switch {
	case dim != st.dim:
		return corrupt(c.name, "vectors of %d dimensions, the index has %d", dim, st.dim)
	case multi > 1 || (multi == 1) != st.multi:
		return corrupt(c.name, "segment multi-vector flag %d does not match the index mode", multi)
	case docs != ref.Docs || vectors != uint64(ref.Vectors):
		return corrupt(c.name, "segment holds %d documents / %d vectors, the manifest says %d / %d", docs, vectors, ref.Docs, ref.Vectors)
	case !st.multi && vectors != uint64(docs):
		return corrupt(c.name, "%d vectors for %d documents", vectors, docs)
	}
	if l, err := c.length(tagVecs); err != nil {
		return err
	} else if l/4/uint64(dim) != vectors || l != vectors*uint64(dim)*4 {
		return corrupt(c.name, "vector section has %d bytes, want %d vectors of %d", l, vectors, dim)
	}
	if uint64(len(st.vecs)/st.dim)+vectors >= noNode {
		return corrupt(c.name, "too many vectors for one index")
	}
	var ntok []uint32
	if st.multi {
		if l, err := c.length(tagNTok); err != nil {
			return err
		} else if l != uint64(docs)*4 {
			return corrupt(c.name, "token-count section has %d bytes, want %d", l, docs*4)
		}
		ntok = make([]uint32, docs)
		if err := c.uint32s(tagNTok, ntok); err != nil {
			return err
		}
		sum := uint64(0)
		for _, n := range ntok {
			sum += uint64(n)
		}
		if sum != vectors {
			return corrupt(c.name, "token counts add up to %d, the segment has %d vectors", sum, vectors)
		}
	}
	lists := make([][][]byte, 3)
	for i, t := range []uint32{tagIDs, tagTexts, tagMeta} {
		b, err := c.bytes(t)
		if err != nil {
			return err
		}
		if lists[i], err = decodeStrings(c.name, t, b, docs); err != nil {
			return err
		}
	}
	for i := range docs {
		id, text, meta := lists[0][i], lists[1][i], lists[2][i]
		if len(id) == 0 || !utf8.Valid(id) {
			return corrupt(c.name, "document %d has an empty or non-UTF-8 id", i)
		}
		if !utf8.Valid(text) {
			return corrupt(c.name, "document %q has non-UTF-8 text", id)
		}
		if len(meta) > 0 && (!json.Valid(meta) || meta[0] != '{') {
			return corrupt(c.name, "document %q: metadata is not a JSON object", id)
		}
	}
	base := len(st.vecs)
	st.vecs = slices.Grow(st.vecs, int(vectors)*dim)[:base+int(vectors)*dim]
	if err := c.float32s(tagVecs, st.vecs[base:]); err != nil {
		return err
	}
	for i := range docs {
		st.ids = append(st.ids, string(lists[0][i]))
		st.texts = append(st.texts, string(lists[1][i]))
		var meta []byte
		if len(lists[2][i]) > 0 {
			meta = lists[2][i]
		}
		st.meta = append(st.meta, meta)
		if st.multi {
			st.tokOff = append(st.tokOff, st.tokOff[len(st.tokOff)-1]+ntok[i])
		}
	}
	return nil
}

var tagTomb = tag("TOMB") // deleted slots, strictly increasing u32

func writeTombstones(w io.Writer, st *state) error {
	cw := newContainerWriter(w, kindTombstones)
	var slots []uint32
	for i := range st.ids {
		if st.del.has(i) {
			slots = append(slots, uint32(i))
		}
	}
	cw.uint32s(tagTomb, slots)
	return cw.finish()
}

// readTombstones marks the listed slots of st deleted.
func readTombstones(c *container, st *state, want int) error {
	l, err := c.length(tagTomb)
	if err != nil {
		return err
	}
	if l != uint64(want)*4 {
		return corrupt(c.name, "%d bytes of tombstones, the manifest says %d", l, want)
	}
	slots := make([]uint32, want)
	if err := c.uint32s(tagTomb, slots); err != nil {
		return err
	}
	for i, s := range slots {
		if int(s) >= len(st.ids) || (i > 0 && s <= slots[i-1]) {
			return corrupt(c.name, "tombstone %d (slot %d) is out of order or range", i, s)
		}
		st.del.set(int(s))
	}
	st.nDel = want
	return nil
}
