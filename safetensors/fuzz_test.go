package safetensors

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the reader: it must return an error or
// a File whose every tensor decodes, and which re-encodes to a file that
// parses to the same contents.
func FuzzParse(f *testing.F) {
	f.Add(file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"b":{"dtype":"I64","shape":[0,3],"data_offsets":[2,2]}}`, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		tensors := map[string]Tensor{}
		for _, name := range sf.Names() {
			in, ok := sf.Info(name)
			if !ok {
				t.Fatalf("listed tensor %q has no info", name)
			}
			b, err := sf.Bytes(name)
			if err != nil || int64(len(b)) != in.End-in.Begin {
				t.Fatalf("%q: %d bytes, %v", name, len(b), err)
			}
			switch {
			case in.DType.Decodable():
				v, err := sf.Float32(name)
				if err != nil || len(v) != in.Numel() {
					t.Fatalf("%q: %v", name, err)
				}
			case in.DType.IsInt():
				sf.Int64(name) // U64 may legitimately overflow
			}
			tensors[name] = Tensor{in.DType, in.Shape, b}
		}
		var buf bytes.Buffer
		if err := Encode(&buf, tensors, sf.Metadata()); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Parse("again", buf.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Len() != sf.Len() {
			t.Fatalf("%d tensors after round trip, want %d", again.Len(), sf.Len())
		}
		for _, name := range sf.Names() {
			a, _ := sf.Bytes(name)
			b, err := again.Bytes(name)
			if err != nil || !bytes.Equal(a, b) {
				t.Fatalf("%q changed in the round trip", name)
			}
		}
	})
}

// FuzzParseIndex: an index parses to plain shard file names or fails.
func FuzzParseIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex("fuzz.json", data)
		if err != nil {
			return
		}
		for _, s := range ix.Shards() {
			if !plainFileName(s) {
				t.Fatalf("shard %q accepted", s)
			}
		}
		if ix.TotalSize < 0 {
			t.Fatalf("total_size %d", ix.TotalSize)
		}
	})
}
