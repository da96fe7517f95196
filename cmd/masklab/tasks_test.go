package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/masklab/masklab/datasets"
)

// masklab tasks lists every task name with its description, and how to use one.
func TestTasksListsEveryTask(t *testing.T) {
	code, out, errs := runCLI("tasks")
	if code != 0 || errs != "" {
		t.Fatalf("masklab tasks: exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(out, "\n")
	for _, name := range datasets.Names() {
		found := false
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 1 && f[0] == name && strings.Contains(l, datasets.Describe(name)) {
				found = true
			}
		}
		if !found {
			t.Errorf("masklab tasks does not list %s with its description:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "task.name") {
		t.Errorf("masklab tasks does not say how to use a task:\n%s", out)
	}
	if code, _, errs := runCLI("tasks", "extra"); code != 2 || !strings.Contains(errs, "takes no arguments") {
		t.Errorf("masklab tasks extra: exit %d, stderr %q", code, errs)
	}
}

// What the default config advertises in quotes ("masklab mask --help", "masklab tasks"
// lists them) exists: the subcommand, and the flag when one is named.
func TestPrintDefaultsAdvertisesRealCommands(t *testing.T) {
	code, out, errs := runCLI("train", "--print-defaults")
	if code != 0 {
		t.Fatalf("masklab train --print-defaults: exit %d, %q", code, errs)
	}
	refs := regexp.MustCompile(`"masklab ([a-z]+)((?: --?[a-z][a-z-]*)*)`).FindAllStringSubmatch(out, -1)
	if len(refs) == 0 {
		t.Fatal("the defaults name no masklab command; the test needs updating")
	}
	for _, r := range refs {
		c, ok := commands[r[1]]
		if !ok {
			t.Errorf("the defaults advertise %q: there is no subcommand %q", r[0], r[1])
			continue
		}
		known := map[string]bool{"help": true, "h": true}
		for _, f := range flagsOf(c) {
			known[f.Name] = true
		}
		for _, fl := range strings.Fields(r[2]) {
			if !known[strings.TrimLeft(fl, "-")] {
				t.Errorf("the defaults advertise %q: masklab %s has no flag %s", r[0], r[1], fl)
			}
		}
	}
}
