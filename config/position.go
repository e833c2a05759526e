package config

import (
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// pos is a place in a config file.
type pos struct {
	file      string
	line, col int
}

func (p pos) String() string {
	if p.line == 0 {
		return p.file
	}
	return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col)
}

// positions maps dotted key paths ("profiles.tc-dev.duration") to where
// they were written. go-toml's decoder reports positions only for the errors
// it finds itself; validation needs them for every key.
type positions map[string]pos

// indexPositions walks the TOML document and records the position of every
// table header and key. Parse errors are left to the decoder, which reports
// them with positions of its own.
func indexPositions(file string, data []byte) positions {
	idx := positions{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = table[:0]
			it := e.Key()
			var first *unstable.Node
			for it.Next() {
				n := it.Node()
				if first == nil {
					first = n
				}
				table = append(table, string(n.Data))
			}
			at := pos{file: file}
			if first != nil {
				at = shape(&p, file, first)
				// Point at the '[' that opens the header, not at its first key.
				for i := int(first.Raw.Offset) - 1; i >= 0 && at.col > 1; i-- {
					at.col--
					if data[i] == '[' {
						break
					}
				}
			}
			idx.add(strings.Join(table, "."), at)
		case unstable.KeyValue:
			path := append([]string(nil), table...)
			it := e.Key()
			var first *unstable.Node
			for it.Next() {
				n := it.Node()
				if first == nil {
					first = n
				}
				path = append(path, string(n.Data))
				// Dotted keys (a.b = 1) define the intermediate tables too.
				idx.add(strings.Join(path, "."), shape(&p, file, first))
			}
		}
	}
	return idx
}

func (idx positions) add(key string, at pos) {
	if _, ok := idx[key]; !ok {
		idx[key] = at
	}
}

func shape(p *unstable.Parser, file string, n *unstable.Node) pos {
	if n.Raw.Length == 0 && n.Raw.Offset == 0 {
		return pos{file: file}
	}
	s := p.Shape(n.Raw)
	return pos{file: file, line: s.Start.Line, col: s.Start.Column}
}
