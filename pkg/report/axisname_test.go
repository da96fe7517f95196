package report

import "testing"

// A figure's caption names the sweep's axis, or all of them when there are several (not
// the stage's name, which read as "valid_loss by main").
func TestAxisName(t *testing.T) {
	one := &Report{Cells: []*Cell{
		{Stage: "main", Values: map[string]string{"masks.input": "none"}},
		{Stage: "main", Values: map[string]string{"masks.input": "full"}},
	}}
	if got := one.axisName("main"); got != "masks.input" {
		t.Errorf("one axis: %q", got)
	}
	two := &Report{Cells: []*Cell{
		{Stage: "main", Values: map[string]string{"task.packing": "none", "masks.self": "causal"}},
		{Stage: "main", Values: map[string]string{"task.packing": "first-fit", "masks.self": "causal"}},
	}}
	if got := two.axisName("main"); got != "masks.self × task.packing" {
		t.Errorf("two axes: %q", got)
	}
	if got := (&Report{}).axisName("pretrain"); got != "pretrain" {
		t.Errorf("no axis: %q", got)
	}
}
