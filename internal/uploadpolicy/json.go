package uploadpolicy

import (
	"strconv"
	"unicode/utf8"
)

// AppendConditionsJSON appends the JSON of Conditions (without the
// enclosing brackets, each condition preceded by a comma) to b. It is
// Conditions, encoded without reflection: the signer calls it for every
// policy, and encoding/json was a tenth of the cost of a signature. When
// fields is not nil it also stores there the form field of every pinned
// value, as Fields does, so that a signature walks the pins once.
func (p *Post) AppendConditionsJSON(b []byte, fields map[string]string) []byte {
	b = appendExact(b, "key", p.Key)
	b = appendExact(b, "Content-Type", p.ContentType)
	b = append(b, `,["content-length-range",`...)
	b = strconv.AppendInt(b, p.MinBytes, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.MaxBytes, 10)
	b = append(b, ']')
	if fields != nil {
		fields["Content-Type"] = p.ContentType
	}
	for name, value := range p.pins {
		b = appendExact(b, name, value)
		if fields != nil {
			fields[name] = value
		}
	}
	return b
}

// AppendExactJSON appends `,{"field":"value"}` to b.
func AppendExactJSON(b []byte, field, value string) []byte { return appendExact(b, field, value) }

func appendExact(b []byte, field, value string) []byte {
	b = append(b, ",{"...)
	b = AppendJSONString(b, field)
	b = append(b, ':')
	b = AppendJSONString(b, value)
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string. Quotes, backslashes and
// control characters are escaped (RFC 8259); so are <, >, & and U+2028/9,
// as encoding/json does, so the document reads the same either way.
// Invalid UTF-8 becomes U+FFFD, as in encoding/json (callers refuse it
// before).
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\r':
					b = append(b, '\\', 'r')
				case '\t':
					b = append(b, '\\', 't')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
