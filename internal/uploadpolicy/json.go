package uploadpolicy

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Signing is what the signer adds to a POST policy: SigV4's algorithm,
// credential (key id and scope) and date, and the session token of
// temporary credentials ("" for long-term ones).
type Signing struct {
	Algorithm, Credential, Date, SecurityToken string
}

// Document returns the policy document that pins p, signed as sig says and
// accepted until expiration (whole seconds, UTC), and every form field a
// client must send with it except policy and the signature, which depend
// on the document. Each exact condition and its form field are written by
// one call, so they cannot disagree; the bucket is a condition only (it is
// in the URL).
//
// The conditions come in the SDK's order: algorithm, bucket, credential,
// date, token, then key, Content-Type, the size range and the pins. The
// JSON is written without reflection: the signer calls this for every
// policy, and encoding/json was a tenth of the cost of a signature.
func (p *Post) Document(sig Signing, expiration time.Time) (doc []byte, fields map[string]string) {
	w := policyWriter{
		doc:    make([]byte, 0, 512+len(p.Key)+len(sig.SecurityToken)),
		fields: make(map[string]string, 12+len(p.Metadata)),
	}
	w.doc = append(w.doc, `{"conditions":[`...)
	w.exact("X-Amz-Algorithm", sig.Algorithm)
	w.condition("bucket", p.Bucket)
	w.exact("X-Amz-Credential", sig.Credential)
	w.exact("X-Amz-Date", sig.Date)
	if sig.SecurityToken != "" {
		w.exact("X-Amz-Security-Token", sig.SecurityToken)
	}
	w.exact("key", p.Key)
	w.exact("Content-Type", p.ContentType)
	w.doc = append(w.doc, `,["content-length-range",`...)
	w.doc = strconv.AppendInt(w.doc, p.MinBytes, 10)
	w.doc = append(w.doc, ',')
	w.doc = strconv.AppendInt(w.doc, p.MaxBytes, 10)
	w.doc = append(w.doc, ']')
	for name, value := range p.pins {
		w.exact(name, value)
	}
	w.doc = append(w.doc, `],"expiration":`...)
	w.doc = appendJSONString(w.doc, expiration.UTC().Format(time.RFC3339))
	w.doc = append(w.doc, '}')
	return w.doc, w.fields
}

// policyWriter builds a policy document and its form fields together.
type policyWriter struct {
	doc    []byte
	fields map[string]string
}

// exact pins a form field to one value: the condition and the field.
func (w *policyWriter) exact(name, value string) {
	w.condition(name, value)
	w.fields[name] = value
}

// condition appends {"name":"value"}, after a comma unless it is the
// first condition.
func (w *policyWriter) condition(name, value string) {
	if w.doc[len(w.doc)-1] != '[' {
		w.doc = append(w.doc, ',')
	}
	w.doc = append(w.doc, '{')
	w.doc = appendJSONString(w.doc, name)
	w.doc = append(w.doc, ':')
	w.doc = appendJSONString(w.doc, value)
	w.doc = append(w.doc, '}')
}

// appendJSONString appends s as a JSON string. Quotes, backslashes and
// control characters are escaped (RFC 8259); so are <, >, & and U+2028/9,
// as encoding/json does, so the document reads the same either way.
// Invalid UTF-8 becomes U+FFFD, as in encoding/json (callers refuse it
// before).
func appendJSONString(b []byte, s string) []byte {
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
