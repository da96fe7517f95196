package datasets

import "testing"

func TestSmokeReverse(t *testing.T) {
	task, err := Load("reverse", Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := task.Batch("train", 4, 1, 0, BatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("S=%d T=%d src=%v\ndec=%v\ntgt=%v", b.S, b.T, b.Src[:24], b.Dec[:24], b.Tgt[:24])
}
