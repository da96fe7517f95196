package plots

import (
	"encoding/binary"
	"fmt"
)

// repackSFNT extracts font index of a TTF/OTF/TTC/OTC file as a standalone
// TTF/OTF with every table starting on a 4-byte boundary. Some fonts (e.g. Debian's
// wqy-microhei.ttc) store unaligned tables, which golang.org/x/image/font/sfnt
// rejects ("invalid table offset") although renderers accept them.
func repackSFNT(data []byte, index int) ([]byte, error) {
	be := binary.BigEndian
	if len(data) < 12 {
		return nil, fmt.Errorf("font file too short (%d bytes)", len(data))
	}
	start := uint32(0)
	if string(data[:4]) == "ttcf" {
		n := int(be.Uint32(data[8:12]))
		if index < 0 || index >= n || len(data) < 12+4*n {
			return nil, fmt.Errorf("font collection has %d fonts, index %d is out of range", n, index)
		}
		start = be.Uint32(data[12+4*index:])
	} else if index != 0 {
		return nil, fmt.Errorf("font is not a collection, index %d is out of range", index)
	}
	if int(start)+12 > len(data) {
		return nil, fmt.Errorf("font offset %d beyond file size %d", start, len(data))
	}
	numTables := int(be.Uint16(data[start+4:]))
	dirEnd := int(start) + 12 + 16*numTables
	if dirEnd > len(data) {
		return nil, fmt.Errorf("font table directory (%d tables) beyond file size %d", numTables, len(data))
	}
	headerLen := 12 + 16*numTables
	out := make([]byte, headerLen, len(data))
	copy(out, data[start:dirEnd])
	for i := range numTables {
		rec := out[12+16*i:]
		off, n := be.Uint32(rec[8:]), be.Uint32(rec[12:])
		if uint64(off)+uint64(n) > uint64(len(data)) {
			return nil, fmt.Errorf("font table %q [%d, +%d) beyond file size %d", rec[:4], off, n, len(data))
		}
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		be.PutUint32(rec[8:], uint32(len(out)))
		out = append(out, data[off:off+n]...)
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out, nil
}
