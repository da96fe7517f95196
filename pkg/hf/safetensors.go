package hf

// A reader and writer of the safetensors format, written here rather than taken from the
// module proxy: github.com/nlpodyssey/safetensors (untagged, last changed February 2025)
// parses only a whole file held in one []byte and serializes only tensors all held in
// memory at once, and github.com/gomlx/go-huggingface v0.3.1 has no safetensors code.
// Loading a checkpoint here streams: it reads the header, then one tensor at a time
// into its float32 variable, so it holds the model's float32 values plus one tensor's
// stored bytes, never the file and a converted copy beside the model. The format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {"__metadata__": {string: string}, name: {"dtype", "shape",
// "data_offsets": [begin, end]}} (offsets relative to the data, which starts at 8+N),
// then the little-endian tensor data.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/masklab/masklab/internal/fsx"
)

// maxHeader bounds the JSON header (the Rust reader's limit is 100 MB too).
const maxHeader = 100 << 20

// Safetensors dtypes that masklab converts to and from float32.
const (
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
)

// dtypeSize gives the element size of every dtype the format defines, so that any valid
// file's header parses; only F32, F16 and BF16 tensors can be loaded.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, F16: 2, BF16: 2,
	"I32": 4, "U32": 4, F32: 4, "F64": 8, "I64": 8, "U64": 8,
}

// rustDtypeOrder is the order of the Rust crate's Dtype enum: its writer (behind
// safetensors.torch.save_file and save_pretrained) lays tensors out by descending dtype,
// then by name, and writes the header in that order.
var rustDtypeOrder = []string{"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", F16, BF16, "I32", "U32", F32, "F64", "I64", "U64"}

// stTensor is one tensor's header entry.
type stTensor struct {
	Name       string
	DType      string
	Shape      []int
	Begin, End int64 // data offsets, relative to the start of the data
}

// stFile is one safetensors file's header.
type stFile struct {
	Path      string
	Size      int64             // file size
	DataStart int64             // 8 + header length
	Metadata  map[string]string // "__metadata__" (nil when absent)
	Tensors   map[string]*stTensor
	Header    []byte // the raw header JSON, padding included
}

// readHeader reads and checks a safetensors file's header: every dtype known, shapes
// and offsets consistent, the data covering the rest of the file exactly (a truncated
// file is an error here, before any tensor is read).
func readHeader(path string) (*stFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("hf: %s: not a valid safetensors file: %s", path, fmt.Sprintf(format, args...))
	}
	size := st.Size()
	if size < 8 {
		return nil, bad("%d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return nil, bad("header length %d exceeds the format's limit of %d bytes (a PyTorch .bin or another format?)", n, maxHeader)
	}
	if int64(n) > size-8 {
		return nil, bad("header length %d but only %d bytes follow (truncated?)", n, size-8)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, bad("header JSON: %v", err)
	}
	sf := &stFile{Path: path, Size: size, DataStart: 8 + int64(n), Tensors: map[string]*stTensor{}, Header: header}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &sf.Metadata); err != nil {
				return nil, bad("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, bad("tensor %q: unknown dtype %q", name, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] > e.Offsets[1] || e.Offsets[1] > uint64(size) {
			return nil, bad("tensor %q: data_offsets %v", name, e.Offsets)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt64/int64(d)/8) {
				return nil, bad("tensor %q: shape %v", name, e.Shape)
			}
			numel *= int64(d)
		}
		if want := numel * int64(es); int64(e.Offsets[1]-e.Offsets[0]) != want {
			return nil, bad("tensor %q: %s%v needs %d bytes, data_offsets %v hold %d", name, e.DType, e.Shape, want, e.Offsets, e.Offsets[1]-e.Offsets[0])
		}
		sf.Tensors[name] = &stTensor{Name: name, DType: e.DType, Shape: e.Shape, Begin: int64(e.Offsets[0]), End: int64(e.Offsets[1])}
	}
	// The tensors must tile the data: sorted by offset, each begins where the previous
	// ended, the first at 0, the last at the end of the file.
	order := sf.dataOrder()
	end := int64(0)
	for _, t := range order {
		if t.Begin != end && !(t.Begin == t.End && t.Begin <= end) {
			return nil, bad("tensor %q's data begins at %d, the previous tensor's ends at %d", t.Name, t.Begin, end)
		}
		end = max(end, t.End)
	}
	switch total := sf.DataStart + end; {
	case total > size:
		return nil, bad("the header places data up to byte %d but the file has %d bytes (truncated)", total, size)
	case total < size:
		return nil, bad("the header places data up to byte %d but the file has %d bytes (trailing data)", total, size)
	}
	return sf, nil
}

// dataOrder returns the tensors sorted by their data offsets.
func (sf *stFile) dataOrder() []*stTensor {
	ts := make([]*stTensor, 0, len(sf.Tensors))
	for _, t := range sf.Tensors {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Begin != ts[j].Begin {
			return ts[i].Begin < ts[j].Begin
		}
		return ts[i].Name < ts[j].Name
	})
	return ts
}

// readFloat32 reads tensor t of r (the file sf describes) and stores it as float32 into
// dst (len = its element count), calling put(i, v) for element i in row-major order when
// put is not nil (a transposing load), else dst[i] = v. buf is scratch space, grown as
// needed and returned for reuse.
func readFloat32(r io.ReaderAt, sf *stFile, t *stTensor, dst []float32, put func(i int, v float32), buf []byte) ([]byte, error) {
	n := int(t.End - t.Begin)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := r.ReadAt(buf, sf.DataStart+t.Begin); err != nil {
		return buf, fmt.Errorf("hf: %s: reading tensor %q: %w", sf.Path, t.Name, err)
	}
	set := func(i int, v float32) { dst[i] = v }
	if put != nil {
		set = put
	}
	switch t.DType {
	case F32:
		for i := range n / 4 {
			set(i, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	case BF16:
		for i := range n / 2 {
			set(i, bfloat16.FromBits(binary.LittleEndian.Uint16(buf[2*i:])).Float32())
		}
	case F16:
		for i := range n / 2 {
			set(i, float16.FromBits(binary.LittleEndian.Uint16(buf[2*i:])).Float32())
		}
	default:
		return buf, fmt.Errorf("hf: %s: tensor %q has dtype %s; masklab loads F32, F16 and BF16 weights", sf.Path, t.Name, t.DType)
	}
	return buf, nil
}

// appendEncoded appends v converted to dtype (F32, F16 or BF16, round to nearest even)
// as little-endian bytes.
func appendEncoded(dst []byte, dtype string, v []float32) []byte {
	switch dtype {
	case F32:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	case BF16:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint16(dst, bfloat16.FromFloat32(x).Bits())
		}
	case F16:
		for _, x := range v {
			dst = binary.LittleEndian.AppendUint16(dst, float16.FromFloat32(x).Bits())
		}
	default:
		panic("hf: cannot encode dtype " + dtype)
	}
	return dst
}

// stEntry is one tensor to write: its name, dtype, shape and a function that appends its
// encoded data (called once, in layout order, so that only one tensor's bytes exist at
// a time).
type stEntry struct {
	Name  string
	DType string
	Shape []int
	Data  func(dst []byte) []byte
}

// layoutOrder sorts entries as the Rust writer does: by descending dtype, then by name.
func layoutOrder(entries []stEntry) {
	rank := func(d string) int { return slices.Index(rustDtypeOrder, d) }
	sort.SliceStable(entries, func(i, j int) bool {
		if ri, rj := rank(entries[i].DType), rank(entries[j].DType); ri != rj {
			return ri > rj
		}
		return entries[i].Name < entries[j].Name
	})
}

// encodeHeader returns the header the Rust writer produces for entries in layout order:
// compact JSON, "__metadata__" first (its keys sorted), the tensors in data order, padded
// with spaces to a multiple of 8 bytes.
func encodeHeader(metadata map[string]string, entries []stEntry) []byte {
	var b bytes.Buffer
	str := func(s string) {
		var sb bytes.Buffer
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		b.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
	}
	b.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if metadata != nil {
		comma()
		str("__metadata__")
		b.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			str(k)
			b.WriteByte(':')
			str(metadata[k])
		}
		b.WriteByte('}')
	}
	offset := int64(0)
	for _, e := range entries {
		comma()
		str(e.Name)
		fmt.Fprintf(&b, `:{"dtype":"%s","shape":[`, e.DType)
		numel := int64(1)
		for i, d := range e.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", d)
			numel *= int64(d)
		}
		n := numel * int64(dtypeSize[e.DType])
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, offset+n)
		offset += n
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

// writeSafetensors writes entries (in the Rust writer's layout) to path atomically: a
// temporary file in the same directory, fsynced, then renamed over path.
func writeSafetensors(path string, metadata map[string]string, entries []stEntry) (err error) {
	layoutOrder(entries)
	header := encodeHeader(metadata, entries)
	f, err := fsx.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	w.Write(lenBuf[:])
	w.Write(header)
	var buf []byte
	for _, e := range entries {
		buf = e.Data(buf[:0])
		numel := 1
		for _, d := range e.Shape {
			numel *= d
		}
		if len(buf) != numel*dtypeSize[e.DType] {
			return fmt.Errorf("hf: %s: tensor %q: %d bytes of data for %s%v", path, e.Name, len(buf), e.DType, e.Shape)
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("hf: %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return fsx.SyncDir(filepath.Dir(path))
}

// isSafetensorsName reports whether a file name looks like a safetensors weights file.
func isSafetensorsName(name string) bool { return strings.HasSuffix(name, ".safetensors") }
