// Command masklab is the one CLI of masklab: masks and their pictures, training,
// sweeps, reports and audits. Run "masklab help" for the list of subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/masklab/masklab/internal/envvars"
	"github.com/masklab/masklab/internal/textutil"
)

// command is one subcommand. Each lives in its own file and registers itself in init.
type command struct {
	name    string
	summary string // one line for "masklab help"
	usage   string // the usage line(s) printed by --help, after "usage: masklab "
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("masklab: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by bad command-line input; main prints it on one line.
var errUsage = errors.New("usage")

// usageError formats a command-line error.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// newFlags returns a FlagSet for a subcommand that prints its usage on --help and
// reports errors instead of exiting.
func newFlags(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("masklab "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: masklab %s\n\n%s\n\nflags:\n", c.usage, c.summary)
		fs.PrintDefaults()
	}
	flagSetsMu.Lock()
	flagSets[c.name] = fs
	flagSetsMu.Unlock()
	return fs
}

// flagSets holds the last FlagSet each subcommand made, for flagsOf.
var (
	flagSetsMu sync.Mutex
	flagSets   = map[string]*flag.FlagSet{}
)

// flagsOf lists the flags a subcommand defines, in name order. A command defines its
// flags in its run function, so flagsOf runs it with --help and its output discarded:
// every command parses its flags before doing anything else (TestEveryCommandHelpAndBadFlag
// runs each one so).
func flagsOf(c *command) []*flag.Flag {
	func() {
		defer func() { _ = recover() }()
		_ = c.run([]string{"--help"}, io.Discard, io.Discard)
	}()
	flagSetsMu.Lock()
	fs := flagSets[c.name]
	flagSetsMu.Unlock()
	var out []*flag.Flag
	if fs != nil {
		fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	}
	return out
}

// parseFlags parses flags interleaved with positional arguments (Go's flag package stops
// at the first positional one, which surprises users of "masklab mask SPEC --q 6").
// It returns the positional arguments, or flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	// The flag package prints a bad flag's error followed by the whole usage; a user
	// gets one line instead (the usage is printed only for --help).
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
				return nil, err
			}
			return nil, usageError("%v (see %q)", err, fs.Name()+" --help")
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return runCommand(c, []string{"--help"}, stdout, stderr)
			}
		}
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		suggest := ""
		if s := textutil.Closest(args[0], names()); s != "" {
			suggest = fmt.Sprintf(" (did you mean %q?)", s)
		}
		fmt.Fprintf(stderr, "masklab: unknown command %q%s; known: %s (see masklab help)\n", args[0], suggest, strings.Join(names(), ", "))
		return 2
	}
	return runCommand(c, args[1:], stdout, stderr)
}

func runCommand(c *command, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// No Go panic trace reaches the user: a panic from deep inside is reported on one
		// line (set MASKLAB_TRACE=1 to see the trace when debugging).
		if r := recover(); r != nil {
			if envvars.Get("MASKLAB_TRACE") != "" {
				panic(r)
			}
			fmt.Fprintf(stderr, "masklab %s: internal error: %s\n", c.name, oneLine(fmt.Sprint(r)))
			code = 1
		}
	}()
	err := c.run(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "masklab %s: %s\n", c.name, strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintf(stderr, "masklab %s: %v\n", c.name, err)
		return 1
	}
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func names() []string {
	var ns []string
	for n := range commands {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "masklab: masks in Transformer decoders, as named, composable, visible strategies.")
	fmt.Fprintln(w, "\nusage: masklab COMMAND [flags] [args]\n\ncommands:")
	for _, n := range names() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"masklab COMMAND --help\" for a command's flags.")
}
