package datasets

import "sync"

type planKey struct {
	split          string
	seed           uint64
	epoch, T       int
	pack           Packing
	window, bucket int
	batchSize      int
	ordered        bool
}

// planCache keeps the last few epoch plans and every plan's row count, so that
// walking the stream of a packed split to a late step packs each epoch once.
type planCache struct {
	mu     sync.Mutex
	plans  map[planKey][]row
	order  []planKey
	counts map[planKey]int
	checks map[checkKey]error
}

type checkKey struct {
	split  string
	S, T   int
	concat bool
}

func (c *planCache) checked(k checkKey) (done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, done = c.checks[k]
	return done, err
}

func (c *planCache) setChecked(k checkKey, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks[k] = err
}

const planCacheSize = 6

func newPlanCache() *planCache {
	return &planCache{plans: map[planKey][]row{}, counts: map[planKey]int{}, checks: map[checkKey]error{}}
}

func (c *planCache) count(k planKey) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.counts[k]
	return n, ok
}

func (c *planCache) get(k planKey, make func() ([]row, error)) ([]row, error) {
	c.mu.Lock()
	if p, ok := c.plans[k]; ok {
		c.mu.Unlock()
		return p, nil
	}
	c.mu.Unlock()
	p, err := make()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.plans[k]; !ok {
		c.plans[k] = p
		c.order = append(c.order, k)
		if len(c.order) > planCacheSize {
			delete(c.plans, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.counts[k] = len(p)
	return p, nil
}
