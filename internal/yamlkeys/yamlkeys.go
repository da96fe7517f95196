// Package yamlkeys decodes a typed config from YAML strictly and edits it by dotted key
// ("model.layers"), with errors that name the key, its line, the value and the closest key.
package yamlkeys

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"gopkg.in/yaml.v3"
)

// Schema is the shape of a config type T, given by a YAML text of every key with its
// default (the mapping every config file must fit).
type Schema[T any] struct {
	tree     *yaml.Node // the defaults as written
	resolved *yaml.Node // the defaults decoded into T and marshalled again (YAML tags by type)
	keys     []string
}

// New returns the schema of T whose defaults are defaultYAML; it panics if they do not
// decode into T (a programming error).
func New[T any](defaultYAML string) *Schema[T] {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(defaultYAML), &n); err != nil || len(n.Content) == 0 {
		panic(fmt.Sprintf("yamlkeys: defaults do not parse: %v", err))
	}
	s := &Schema[T]{tree: n.Content[0]}
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i].Value, m.Content[i+1]
			if prefix != "" {
				k = prefix + "." + k
			}
			if v.Kind == yaml.MappingNode {
				walk(k, v)
			} else {
				s.keys = append(s.keys, k)
			}
		}
	}
	walk("", s.tree)
	d, err := s.Decode([]byte(defaultYAML), "defaults", nil)
	if err != nil {
		panic("yamlkeys: defaults do not decode: " + err.Error())
	}
	var r yaml.Node
	if err := yaml.Unmarshal(mustMarshal(d), &r); err != nil {
		panic(err)
	}
	s.resolved = r.Content[0]
	return s
}

// Keys lists every settable key in dotted form, in the order of the defaults.
func (s *Schema[T]) Keys() []string { return append([]string(nil), s.keys...) }

func mustMarshal(v any) []byte {
	data, err := yaml.Marshal(v)
	if err != nil {
		panic("yamlkeys: value does not marshal: " + err.Error())
	}
	return data
}

// Decode decodes YAML data over base (a new zero T when nil), after checking it against
// the defaults so that errors name the dotted key and its line; errors start with what.
func (s *Schema[T]) Decode(data []byte, what string, base *T) (*T, error) {
	c := base
	if c == nil {
		c = new(T)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if len(doc.Content) > 0 {
		if errs := s.CheckNode(doc.Content[0]); len(errs) > 0 {
			return nil, fmt.Errorf("%s: %s", what, strings.Join(errs, "; "))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, errEOF) {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	return c, nil
}

var errEOF = func() error {
	var x struct{}
	return yaml.NewDecoder(strings.NewReader("")).Decode(&x)
}()

// CheckNode checks a mapping (a file, or a sweep's base) against the defaults before it
// is decoded, so that errors name the dotted key and its line: an unknown key with the
// closest valid one ("did you mean"), a section given a value, or a value of the wrong
// type ("want an integer, got "four"").
func (s *Schema[T]) CheckNode(root *yaml.Node) []string {
	if root == nil || root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("line %d: want a mapping of keys (task:, model:, ...), got %s", root.Line, describeNode(root))}
	}
	var errs []string
	var walk func(prefix string, user, def *yaml.Node)
	walk = func(prefix string, user, def *yaml.Node) {
		for i := 0; i+1 < len(user.Content); i += 2 {
			k, v := user.Content[i], user.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			var dv *yaml.Node
			for j := 0; j+1 < len(def.Content); j += 2 {
				if def.Content[j].Value == k.Value {
					dv = def.Content[j+1]
				}
			}
			switch {
			case dv == nil:
				errs = append(errs, fmt.Sprintf("line %d: %v", k.Line, s.unknownKey(key, true)))
			case dv.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
				walk(key, v, dv)
			case dv.Kind == yaml.MappingNode:
				if v.Tag != "!!null" {
					errs = append(errs, fmt.Sprintf("line %d: %s is a section: want keys under it (e.g. %s.%s), got %s",
						v.Line, key, key, dv.Content[0].Value, describeNode(v)))
				}
			default:
				if err := s.checkScalar(key, v); err != nil {
					errs = append(errs, fmt.Sprintf("line %d: %v", v.Line, err))
				}
			}
		}
	}
	walk("", root, s.tree)
	return errs
}

func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "an empty value"
	}
	return fmt.Sprintf("%q", n.Value)
}

// checkScalar checks that a YAML value fits the Go type of the key.
func (s *Schema[T]) checkScalar(key string, n *yaml.Node) error {
	kind := s.fieldKind(key)
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("bad value for %s: want %s, got %s", key, kindName(kind), describeNode(n))
	}
	isInt := kind >= reflect.Int && kind <= reflect.Int64
	isFloat := kind == reflect.Float64 || kind == reflect.Float32
	if isInt && n.Tag != "!!int" || isFloat && n.Tag != "!!float" && n.Tag != "!!int" || kind == reflect.Bool && n.Tag != "!!bool" {
		return fmt.Errorf("bad value for %s: want %s, got %s", key, kindName(kind), describeNode(n))
	}
	if kind == reflect.String && !roundTrips(n.Value) {
		return fmt.Errorf("bad value for %s: %q has several lines and starts with a line break or a tab, "+
			"which a saved config cannot hold (it would read back as another value)", key, n.Value)
	}
	return nil
}

// Set sets key of c to value: a string is parsed as YAML unless the key holds a string
// (kept verbatim); any other value is encoded as YAML. An unknown key or a value of the
// wrong type is an error naming the key, the value and the closest valid key.
func (s *Schema[T]) Set(c *T, key string, value any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(mustMarshal(c), &root); err != nil {
		return err
	}
	node := root.Content[0]
	parts := strings.Split(key, ".")
	for i, p := range parts {
		var next *yaml.Node
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == p {
				next = node.Content[j+1]
				break
			}
		}
		if i == len(parts)-1 && next != nil && next.Kind == yaml.MappingNode {
			return fmt.Errorf("--set %s=%v: %s is a section: set one of its keys, e.g. %s.%s", key, value, key, key, next.Content[0].Value)
		}
		if next == nil && i == len(parts)-1 && slices.Contains(s.keys, key) {
			// A key the config leaves out of its YAML (omitempty, e.g. at its default).
			next = &yaml.Node{Kind: yaml.ScalarNode}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, next)
		}
		if section := strings.Join(parts[:i+1], ".") + "."; next == nil && i < len(parts)-1 &&
			slices.ContainsFunc(s.keys, func(k string) bool { return strings.HasPrefix(k, section) }) {
			// A section the config leaves out (omitempty, all of its keys at their zero value).
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, next)
		}
		if next == nil || (i < len(parts)-1 && next.Kind != yaml.MappingNode) {
			return s.unknownKeyError(key, value)
		}
		if i == len(parts)-1 {
			var nv yaml.Node
			switch sv := value.(type) {
			case string:
				// A string for a key that is not a string (--set text, or a sweep axis
				// value such as "two") is parsed as YAML and must fit the key's type.
				kind := s.fieldKind(key)
				if kind != reflect.String {
					if err := yaml.Unmarshal([]byte(sv), &nv); err != nil || len(nv.Content) != 1 {
						return fmt.Errorf("--set %s=%s: not a valid value: %v", key, sv, err)
					}
					nv = *nv.Content[0]
					if err := s.checkScalar(key, &nv); err != nil {
						return fmt.Errorf("--set %s=%s: %v", key, sv, err)
					}
				} else {
					if !roundTrips(sv) {
						return fmt.Errorf("--set %s=%q: a value of several lines cannot start with a line break or a tab (a saved config would read it back as another value); drop the leading line break", key, sv)
					}
					nv = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: sv, Style: yaml.DoubleQuotedStyle}
				}
			default:
				if err := nv.Encode(value); err != nil {
					return fmt.Errorf("setting %s=%v: %v", key, value, err)
				}
				if err := s.checkScalar(key, &nv); err != nil {
					return fmt.Errorf("setting %s=%v: %v", key, value, err)
				}
			}
			*next = nv
		}
		node = next
	}
	data, err := yaml.Marshal(&root)
	if err != nil {
		return err
	}
	nc, err := s.Decode(data, "config", new(T))
	if err != nil {
		return fmt.Errorf("--set %s=%v: bad value for %s (%s): %s", key, value, key, s.typeOfKey(key), explainValueError(err))
	}
	*c = *nc
	return nil
}

// fieldKind returns the Go kind of the field of T at a dotted yaml key.
func (s *Schema[T]) fieldKind(key string) reflect.Kind {
	t := reflect.TypeFor[T]()
	for _, p := range strings.Split(key, ".") {
		found := false
		for i := 0; i < t.NumField(); i++ {
			if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == p {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return reflect.Invalid
		}
	}
	return t.Kind()
}

func kindName(k reflect.Kind) string {
	switch {
	case k >= reflect.Int && k <= reflect.Int64:
		return "an integer"
	case k == reflect.Float64 || k == reflect.Float32:
		return "a number"
	case k == reflect.Bool:
		return "true or false"
	}
	return k.String()
}

func explainValueError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "cannot unmarshal"); i >= 0 {
		return msg[i:]
	}
	return msg
}

func (s *Schema[T]) typeOfKey(key string) string {
	node := s.resolved
	for _, p := range strings.Split(key, ".") {
		for j := 0; j+1 < len(node.Content); j += 2 {
			if node.Content[j].Value == p {
				node = node.Content[j+1]
				break
			}
		}
	}
	return strings.TrimPrefix(node.Tag, "!!")
}

func (s *Schema[T]) unknownKeyError(key string, value any) error {
	return fmt.Errorf("--set %s=%v: %w", key, value, s.unknownKey(key, false))
}

// unknownKey says that key is not a config key and names the closest one; with
// sections, a section name such as "model" is a candidate too (a misspelt section in a
// file).
func (s *Schema[T]) unknownKey(key string, sections bool) error {
	keys := s.Keys()
	cands := append([]string{}, keys...)
	for i := 0; sections && i+1 < len(s.tree.Content); i += 2 {
		if s.tree.Content[i+1].Kind == yaml.MappingNode {
			cands = append(cands, s.tree.Content[i].Value)
		}
	}
	if near := textutil.ClosestKey(key, cands); near != "" {
		return fmt.Errorf("unknown key %q; did you mean %q?", key, near)
	}
	return fmt.Errorf("unknown key %q; known keys: %s", key, strings.Join(keys, ", "))
}

// roundTrips reports whether yaml.v3 reads s back as written: it writes a string of
// several lines as a block scalar, which loses a leading line break and cannot start
// with a tab, so a config holding such a string would change (and change its hash) on
// its way through config.yaml.
func roundTrips(s string) bool {
	if !strings.Contains(s, "\n") {
		return true
	}
	data, err := yaml.Marshal(s)
	var back string
	return err == nil && yaml.Unmarshal(data, &back) == nil && back == s
}
