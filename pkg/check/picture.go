package check

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/datasets"
)

// Example is one batch row as the picture shows it: every label position (the token the
// loss predicts there; the decoder input is the token before it) with its role.
type Example struct {
	Batch, Row int
	// Why says why this row was picked (a problem it shows, or "the first row").
	Why string
	// Origins name where the row's documents come from ("my.jsonl:7", "reverse#5").
	Origins []string
	// Source is the encoder's input (seq2seq), without padding.
	Source []string
	Tokens []Token
}

// Role is what a label position holds.
type Role string

// The roles of a position. A decoder-only LM document and a seq2seq target are all
// Completion (no prompt).
const (
	Prompt     Role = "prompt"
	Completion Role = "completion"
	Padding    Role = "padding"
)

// Token is one label position of an Example.
type Token struct {
	Text   string
	Role   Role
	Weight float32 // the loss weight: trained when > 0, ignored when 0
	Doc    int     // the segment (document) id; 0 on padding
	Start  bool    // the first position of a document (a boundary, unless it starts the row)
}

// pickExample picks the row that shows the first problem found (zero supervision, then
// leakage across documents), else the first packed row, else the first row.
func (a *analysis) pickExample() *Example {
	at, why := [2]int{0, 0}, "the first row"
	switch {
	case a.zeroAt[0] >= 0:
		at, why = a.zeroAt, "a document with no trained token"
	case a.crossAt[0] >= 0:
		at, why = a.crossAt, "a packed row whose documents see each other"
	case a.packedAt[0] >= 0:
		at, why = a.packedAt, "the first packed row"
	}
	b := &a.bs.List[at[0]]
	r, T := at[1], b.T
	v := a.bs.Task.Vocab
	ex := &Example{Batch: at[0], Row: r, Why: why}
	for k := range b.Docs[r] {
		ex.Origins = append(ex.Origins, a.origin(b, r, k))
	}
	if b.S > 0 {
		sv := a.bs.Task.SrcVocab
		if sv == nil {
			sv = v
		}
		for _, id := range b.Src[r*b.S : r*b.S+int(b.SrcLen[r])] {
			ex.Source = append(ex.Source, sv.Token(int(id)))
		}
	}
	for p := range T {
		i := r*T + p
		t := Token{Text: v.Token(int(b.Tgt[i])), Role: Completion, Weight: b.Weights[i], Doc: int(b.Segments[i])}
		switch {
		case p >= int(b.TgtLen[r]):
			t.Role = Padding
		case b.Prompt[i] == 1:
			t.Role = Prompt
		}
		t.Start = t.Role != Padding && (p == 0 || b.Segments[i] != b.Segments[i-1])
		ex.Tokens = append(ex.Tokens, t)
	}
	return ex
}

// ANSI styles of the terminal picture.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiBlue   = "\x1b[34m"
	ansiGreen  = "\x1b[32m"
	ansiGrey   = "\x1b[90m"
	ansiRevMag = "\x1b[35;1m"
)

// Legend explains the picture Format draws (color: ANSI styles; otherwise markers).
func Legend(color bool) string {
	if color {
		return fmt.Sprintf("%sprompt%s %scompletion%s, %sbold: trained%s, %sdim: ignored by the loss%s, %s‖%s document boundary, %spadding%s",
			ansiBlue, ansiReset, ansiGreen, ansiReset, ansiBold, ansiReset, ansiDim, ansiReset, ansiRevMag, ansiReset, ansiGrey, ansiReset)
	}
	return "[prompt|completion, trained|ignored|weight w] starts a run of tokens with that role; ‖ document boundary; [padding xN]"
}

// Format draws the example on one line per document: with color, tokens coloured by
// role (ANSI: blue prompt, green completion, bold when trained, dim when ignored, grey
// padding); without, a marker starts each run of tokens sharing a role.
func (e *Example) Format(color bool) string {
	var sb strings.Builder
	if len(e.Source) > 0 {
		fmt.Fprintf(&sb, "source: %s\n", strings.Join(e.Source, " "))
	}
	pad := 0
	prev := ""
	for i, t := range e.Tokens {
		if t.Role == Padding {
			pad++
			continue
		}
		if t.Start && i > 0 {
			if color {
				sb.WriteString(ansiReset + " " + ansiRevMag + "‖" + ansiReset + "\n")
			} else {
				sb.WriteString(" ‖\n")
			}
			prev = ""
		}
		mark := string(t.Role) + ", " + trained(t.Weight)
		if color {
			// One escape per run of tokens sharing a style.
			style := ansiGreen
			if t.Role == Prompt {
				style = ansiBlue
			}
			if t.Weight > 0 {
				style += ansiBold
			} else {
				style += ansiDim
			}
			if style != prev {
				if prev != "" {
					sb.WriteString(ansiReset)
				}
				sb.WriteString(style)
				prev = style
			}
			if !strings.HasSuffix(sb.String(), "\n") && !strings.HasSuffix(sb.String(), style) {
				sb.WriteByte(' ')
			}
			sb.WriteString(t.Text)
			continue
		}
		if mark != prev {
			if sb.Len() > 0 && !strings.HasSuffix(sb.String(), "\n") {
				sb.WriteByte(' ')
			}
			sb.WriteString("[" + mark + "]")
			prev = mark
		}
		sb.WriteString(" " + t.Text)
	}
	if color && prev != "" {
		sb.WriteString(ansiReset)
	}
	if pad > 0 {
		if color {
			fmt.Fprintf(&sb, " %s%s×%d%s", ansiGrey, datasets.PadToken, pad, ansiReset)
		} else {
			fmt.Fprintf(&sb, " [padding x%d]", pad)
		}
	}
	sb.WriteByte('\n')
	return sb.String()
}

func trained(w float32) string {
	switch {
	case w == 0:
		return "ignored"
	case w == 1:
		return "trained"
	}
	return fmt.Sprintf("weight %g", w)
}
