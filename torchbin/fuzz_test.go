package torchbin

import (
	"bytes"
	"io"
	"testing"
)

// zeros is a ReaderAt of any length that reads as zero bytes.
type zeros struct{}

func (zeros) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// FuzzUnpickle runs arbitrary bytes as a state-dict pickle: it must end in
// an error or a state dict whose tensors copy out within their storages.
func FuzzUnpickle(f *testing.F) {
	f.Add([]byte(pkl(6, 0, []int{2, 3}, []int{3, 1})))
	f.Add([]byte(pkl(6, 0, []int{3, 2}, []int{1, 3})))
	f.Add([]byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR."))
	f.Fuzz(func(t *testing.T, data []byte) {
		u := &unpickler{in: newInput(bytes.NewReader(data), int64(len(data)))}
		var refs []*storageRef
		u.persistent = func(pid any) (any, error) {
			st, err := storagePID(pid)
			if err == nil {
				refs = append(refs, st)
			}
			return st, err
		}
		root, err := u.load()
		if err != nil {
			return
		}
		blobs := map[string]*blob{}
		for _, st := range refs {
			n := st.numel * int64(st.dtype.Size())
			if st.numel > 1<<20 || (blobs[st.key] != nil && blobs[st.key].size != n) {
				return // a real file would be rejected by checkStorage
			}
			blobs[st.key] = &blob{key: st.key, size: n}
		}
		file := &File{name: "fuzz", r: zeros{}, tensors: map[string]*tensor{}}
		if err := file.collect(root, blobs, "data.pkl"); err != nil {
			return
		}
		for name, tt := range file.tensors {
			b, err := file.Bytes(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if int64(len(b)) != tt.nbytes || len(b) != tt.info.Numel()*tt.info.DType.Size() {
				t.Fatalf("%s: %d bytes for %s %v", name, len(b), tt.info.DType, tt.info.Shape)
			}
		}
	})
}

// FuzzParse feeds whole files (zip or legacy) to Parse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			in, _ := file.Info(name)
			b, err := file.Bytes(name)
			if err == nil && len(b) != in.Numel()*in.DType.Size() {
				t.Fatalf("%s: %d bytes for %s %v", name, len(b), in.DType, in.Shape)
			}
		}
	})
}

var _ io.ReaderAt = zeros{}
