// Package sysmem says how much memory this machine (or its cgroup) lets a process use,
// and parses sizes such as "8GiB", so that oversized runs are refused before they start.
package sysmem

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Limit returns the memory a process here may use: the smaller of the machine's total
// memory (/proc/meminfo) and the cgroup's limit (v2 memory.max, v1
// memory.limit_in_bytes), with where it came from. It is not the momentary free memory,
// which other processes change. ok is false when neither can be read.
func Limit() (bytes int64, source string, ok bool) {
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, found := strings.CutPrefix(line, "MemTotal:"); found {
				f := strings.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						bytes, source, ok = kb*1024, "total memory (/proc/meminfo)", true
					}
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<60 { // "max", or v1's "no limit" (a huge number)
			continue
		}
		if !ok || v < bytes {
			bytes, source, ok = v, "the cgroup's memory limit ("+p+")", true
		}
	}
	return bytes, source, ok
}

// Parse reads a size: a number of bytes, or a number with a unit (K, M, G, T with or
// without "i" and "B", powers of 1024; "1.5GiB", "800M", "24G").
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	if i := strings.LastIndexAny(num, "0123456789"); i < len(num)-1 {
		num = num[:i+1]
	}
	// num may end with a '.' that TrimRight kept; let ParseFloat judge it.
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes or a number with K, M, G or T (e.g. 8GiB)", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
		"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want K, M, G or T, e.g. 8GiB)", s, unit)
	}
	return int64(v * mult), nil
}

// Format writes bytes with a binary unit, e.g. "1.5 GiB".
func Format(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	v, i := float64(b), 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.3g %ciB", v, "KMGTPE"[i-1])
}
