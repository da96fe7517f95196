package datasets

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

// FNV-1a 64 parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString is FNV-1a 64 of s: the key of deterministic splits and subsets.
func hashString(s string) uint64 { return fnvAdd(fnvOffset, s) }

// hashPair is FNV-1a 64 of a, a zero byte and b: hashString(a+"\x00"+b) without
// building the string.
func hashPair(a, b string) uint64 {
	return fnvAdd(fnvAdd(fnvOffset, a)*fnvPrime, b) // the zero byte: h ^= 0, h *= prime
}

// fnvAdd continues an FNV-1a 64 hash h with the bytes of s.
func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}
