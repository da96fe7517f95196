package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

func init() {
	register(&command{
		name:    "completion",
		summary: "print a shell completion script (bash or zsh): subcommands, flags, flag values and mask names",
		usage: `completion bash|zsh

Prints a completion script made from this binary's subcommands, their flags and the
registered mask names (so it follows the binary: regenerate it after an upgrade).
bash:  source <(masklab completion bash)     (or save it as
       ~/.local/share/bash-completion/completions/masklab)
zsh:   source <(masklab completion zsh)      (after compinit; or save it as _masklab in a
       directory of $fpath)`,
		run: runCompletion,
	})
}

func runCompletion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["completion"], stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one shell, bash or zsh, got %d arguments %q", len(pos), pos)
	}
	spec := completionSpec()
	switch pos[0] {
	case "bash":
		_, err = io.WriteString(stdout, bashCompletion(spec))
	case "zsh":
		_, err = io.WriteString(stdout, zshCompletion(spec))
	default:
		return usageError("unknown shell %q: want bash or zsh", pos[0])
	}
	return err
}

// What a flag's value or a positional argument completes to.
const (
	compNone      = "none"      // nothing to offer (numbers, free text)
	compWords     = "words"     // a fixed list
	compAttention = "attention" // an attention-mask spec (self and cross names)
	compInput     = "input"     // a decoder-input corruption spec
	compMaskSpec  = "mask"      // masklab mask's SPEC: attention names, or loss names with --kind loss
	compKeys      = "keys"      // a config key, completed with its '='
	compFiles     = "files"     // a file or directory
	compCommands  = "commands"  // a subcommand
)

// compFlag is a flag that takes a value, and what the value completes to.
type compFlag struct {
	name, kind string
	words      []string
}

type compCommand struct {
	name, summary string
	flags         []string   // every flag, as --name
	values        []compFlag // the flags that take a value
	positional    string     // what positional arguments complete to
	posWords      []string   // for compWords
}

// flagValueWords lists the values of the flags that take one of a few words, by
// "command flag", or by "flag" for every command that has it.
var flagValueWords = map[string][]string{
	"backend":     {"go", "xla:cpu", "xla:cuda"},
	"audit model": {layers.KindDecoder, layers.KindSeq2Seq, layers.KindLSTM},
	"audit what":  {layers.AuditSelf, layers.AuditCross},
	"mask kind":   {"self", "cross", "loss", "score"},
	"mask format": {"ascii", "png", "svg", "pdf"},
	"eval split":  {"valid", "test"},
	"score":       mask.Names(mask.KindScore), // mask and audit --score: a name (terms after + are not completed)
}

// fileFlags are the flags whose value is a path.
var fileFlags = map[string]bool{"out": true, "corpus": true, "masklab": true}

// positionalArgs says what each subcommand's positional arguments are; the others take
// paths (config and sweep files, run and sweep directories).
var positionalArgs = map[string]string{
	"mask":       compMaskSpec,
	"corrupt":    compInput,
	"audit":      compNone,
	"version":    compNone,
	"tasks":      compNone,
	"completion": compWords,
}

// completionSpec gathers the subcommands, their flags and what completes where.
func completionSpec() []compCommand {
	var out []compCommand
	for _, n := range names() {
		c := commands[n]
		cc := compCommand{name: n, summary: c.summary, positional: compFiles}
		if p, ok := positionalArgs[n]; ok {
			cc.positional = p
		}
		if n == "completion" {
			cc.posWords = []string{"bash", "zsh"}
		}
		for _, f := range flagsOf(c) {
			cc.flags = append(cc.flags, "--"+f.Name)
			if v := valueCompletion(n, f); v.kind != "" {
				cc.values = append(cc.values, v)
			}
		}
		cc.flags = append(cc.flags, "--help")
		out = append(out, cc)
	}
	return out
}

// valueCompletion says what the value of flag f of command cmd completes to; kind ""
// for a boolean flag, which takes no value.
func valueCompletion(cmd string, f *flag.Flag) compFlag {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return compFlag{}
	}
	v := compFlag{name: f.Name, kind: compNone}
	words, ok := flagValueWords[cmd+" "+f.Name]
	if !ok {
		words, ok = flagValueWords[f.Name]
	}
	switch {
	case ok:
		v.kind, v.words = compWords, words
	case cmd == "audit" && slices.Contains([]string{"self", "cross", "enc", "expect"}, f.Name):
		v.kind = compAttention
	case f.Name == "set":
		v.kind = compKeys
	case fileFlags[f.Name]:
		v.kind = compFiles
	}
	return v
}

func configKeys() []string {
	var keys []string
	for _, k := range experiments.Keys() {
		keys = append(keys, k+"=")
	}
	return keys
}

// bashCompletion writes the bash script. It completes the subcommand, then for the
// subcommand its flags (after -), a flag's value (after the flag) and its positional
// arguments; in a mask spec, the name after the last operator ("causal & d" -> doc).
func bashCompletion(spec []compCommand) string {
	var b strings.Builder
	b.WriteString(`# bash completion for masklab: subcommands, flags, flag values and mask names.
# Generated by "masklab completion bash" from the binary's commands and mask registry.
# Load it in the current shell:  source <(masklab completion bash)
# or install it:                 masklab completion bash > ~/.local/share/bash-completion/completions/masklab

`)
	fmt.Fprintf(&b, "_masklab_attention=%s\n", shellWords(mask.Names(mask.KindSelf)))
	fmt.Fprintf(&b, "_masklab_input=%s\n", shellWords(mask.Names(mask.KindInput)))
	fmt.Fprintf(&b, "_masklab_loss=%s\n", shellWords(mask.Names(mask.KindLoss)))
	fmt.Fprintf(&b, "_masklab_keys=%s\n", shellWords(configKeys()))
	fmt.Fprintf(&b, "_masklab_commands=%s\n\n", shellWords(append(names(), "help")))
	b.WriteString(`# _masklab_spec NAMES: complete the name after the last operator of the mask spec in $cur.
_masklab_spec() {
    local re="^(.*[&|!( \"'])([^&|!( \"']*)\$" pre="" name=$cur w
    if [[ $cur =~ $re ]]; then
        pre=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
    fi
    for w in $(compgen -W "$1" -- "$name"); do
        COMPREPLY+=("$pre$w")
    done
}

_masklab_files() {
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
}

_masklab() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev="" cmd=${COMP_WORDS[1]} flag=""
    COMPREPLY=()
    if ((COMP_CWORD <= 1)); then
        COMPREPLY=($(compgen -W "$_masklab_commands" -- "$cur"))
        return 0
    fi
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $prev == "=" ]] && ((COMP_CWORD >= 3)); then # --flag=value
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    if [[ $prev == -* ]]; then
        flag=${prev#-}
        flag=${flag#-}
    fi
    case $cmd in
`)
	for _, c := range spec {
		fmt.Fprintf(&b, "    %s)\n        case $flag in\n", c.name)
		for _, v := range c.values {
			fmt.Fprintf(&b, "            %s) %s return 0 ;;\n", v.name, bashValue(v.kind, v.words))
		}
		b.WriteString("        esac\n")
		fmt.Fprintf(&b, "        if [[ $cur == -* ]]; then\n            COMPREPLY=($(compgen -W %s -- \"$cur\"))\n            return 0\n        fi\n",
			shellWords(c.flags))
		if c.positional == compMaskSpec {
			b.WriteString(`        if [[ " ${COMP_WORDS[*]} " =~ [[:space:]]--?kind[[:space:]=]+loss[[:space:]] ]]; then
            _masklab_spec "$_masklab_loss"
        else
            _masklab_spec "$_masklab_attention"
        fi
        ;;
`)
			continue
		}
		fmt.Fprintf(&b, "        %s\n        ;;\n", bashValue(c.positional, c.posWords))
	}
	b.WriteString(`    help) COMPREPLY=($(compgen -W "$_masklab_commands" -- "$cur")) ;;
    esac
    return 0
}

complete -F _masklab masklab
`)
	return b.String()
}

// bashValue is the bash code that completes $cur to one kind of value.
func bashValue(kind string, words []string) string {
	switch kind {
	case compWords:
		return fmt.Sprintf("COMPREPLY=($(compgen -W %s -- \"$cur\"));", shellWords(words))
	case compAttention:
		return `_masklab_spec "$_masklab_attention";`
	case compInput:
		return `_masklab_spec "$_masklab_input";`
	case compKeys:
		return `compopt -o nospace 2>/dev/null; COMPREPLY=($(compgen -W "$_masklab_keys" -- "$cur"));`
	case compFiles:
		return "_masklab_files;"
	case compCommands:
		return `COMPREPLY=($(compgen -W "$_masklab_commands" -- "$cur"));`
	}
	return ":;"
}

// zshCompletion writes the zsh script: the same completions as bash's, with the
// subcommands described.
func zshCompletion(spec []compCommand) string {
	var b strings.Builder
	b.WriteString(`#compdef masklab
# zsh completion for masklab: subcommands, flags, flag values and mask names.
# Generated by "masklab completion zsh" from the binary's commands and mask registry.
# Load it in the current shell (after compinit):  source <(masklab completion zsh)
# or install it as _masklab in a directory of $fpath.

# _masklab_spec NAME...: complete the name after the last operator of a mask spec.
_masklab_spec() {
  compset -P '*[&|!( ]'
  compadd -- "$@"
}

_masklab() {
  local cur=${words[CURRENT]} prev=${words[CURRENT-1]} cmd=${words[2]} flag=""
  local -a commands attention input loss keys
`)
	fmt.Fprintf(&b, "  attention=(%s)\n", strings.Join(mask.Names(mask.KindSelf), " "))
	fmt.Fprintf(&b, "  input=(%s)\n", strings.Join(mask.Names(mask.KindInput), " "))
	fmt.Fprintf(&b, "  loss=(%s)\n", strings.Join(mask.Names(mask.KindLoss), " "))
	fmt.Fprintf(&b, "  keys=(%s)\n", strings.Join(configKeys(), " "))
	b.WriteString("  commands=(\n")
	for _, c := range spec {
		fmt.Fprintf(&b, "    %s\n", zshQuote(c.name+":"+strings.ReplaceAll(c.summary, ":", `\:`)))
	}
	b.WriteString(`    'help:print the list of subcommands, or a subcommand'"'"'s usage'
  )
  if ((CURRENT == 2)); then
    _describe -t commands 'masklab command' commands
    return
  fi
  if [[ $cur == -*=* ]]; then # --flag=value
    flag=${cur%%=*}
    compset -P '*='
  elif [[ $prev == -* ]]; then
    flag=$prev
  fi
  flag=${flag#-}
  flag=${flag#-}
  case $cmd in
`)
	for _, c := range spec {
		fmt.Fprintf(&b, "  %s)\n    case $flag in\n", c.name)
		for _, v := range c.values {
			fmt.Fprintf(&b, "      %s) %s return ;;\n", v.name, zshValue(v.kind, v.words))
		}
		b.WriteString("    esac\n")
		fmt.Fprintf(&b, "    if [[ $cur == -* ]]; then\n      compadd -- %s\n      return\n    fi\n", strings.Join(c.flags, " "))
		if c.positional == compMaskSpec {
			b.WriteString(`    if ((${words[(I)loss]} || ${words[(I)--kind=loss]} || ${words[(I)-kind=loss]})); then
      _masklab_spec $loss
    else
      _masklab_spec $attention
    fi
    ;;
`)
			continue
		}
		fmt.Fprintf(&b, "    %s\n    ;;\n", zshValue(c.positional, c.posWords))
	}
	b.WriteString(`  help) _describe -t commands 'masklab command' commands ;;
  esac
}

if [[ $funcstack[1] == _masklab ]]; then # autoloaded from $fpath
  _masklab "$@"
else
  compdef _masklab masklab
fi
`)
	return b.String()
}

// zshValue is the zsh code that completes the current word to one kind of value.
func zshValue(kind string, words []string) string {
	switch kind {
	case compWords:
		return "compadd -- " + strings.Join(words, " ") + ";"
	case compAttention:
		return "_masklab_spec $attention;"
	case compInput:
		return "_masklab_spec $input;"
	case compKeys:
		return "compadd -S '' -- $keys;"
	case compFiles:
		return "_files;"
	case compCommands:
		return "_describe -t commands 'masklab command' commands;"
	}
	return ":;"
}

// shellWords quotes a word list for bash: "a b c" (the words are names, keys and
// flags: no quotes or dollars in them).
func shellWords(ws []string) string { return `"` + strings.Join(ws, " ") + `"` }

// zshQuote single-quotes s for zsh.
func zshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }
