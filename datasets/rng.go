package datasets

import "hash/fnv"

// rng is splitmix64: tiny, fast and fully specified here, so generated data and
// shuffles are identical on every machine and Go version.
type rng struct{ s uint64 }

func newRNG(seeds ...uint64) *rng {
	r := &rng{s: 0x9e3779b97f4a7c15}
	for _, s := range seeds {
		r.s ^= s
		r.s = r.next()
	}
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform int in [0, n) (n > 0), by rejection so there is no bias.
func (r *rng) intn(n int) int {
	un := uint64(n)
	limit := ^uint64(0) - (^uint64(0) % un)
	for {
		if v := r.next(); v < limit {
			return int(v % un)
		}
	}
}

// perm returns a uniform permutation of 0..n-1 (Fisher-Yates).
func (r *rng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// hashString is FNV-1a 64 of s: the key of deterministic splits and subsets.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// hashPair is FNV-1a 64 of a, a zero byte and b.
func hashPair(a, b string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * 1099511628211
	}
	h = (h ^ 0) * 1099511628211
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * 1099511628211
	}
	return h
}
