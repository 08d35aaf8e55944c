package config

import (
	"fmt"
	"strings"
)

// Verification says how a profile's uploads are checked once they have
// landed, before anything reports them ready.
type Verification struct {
	// Sniff compares the type detected in an object's first bytes with
	// its declared Content-Type.
	Sniff Sniff `yaml:"sniff"`
}

// Sniff is how the detected type of an object's bytes must relate to its
// declared Content-Type.
type Sniff struct {
	// Disabled turns the comparison off for the profile.
	Disabled bool `yaml:"disabled"`
	// Skip lists declared media types whose bytes are not compared (a
	// format the detector does not know, say).
	Skip []string `yaml:"skip"`
	// Equivalent maps a declared media type to detected ones accepted for
	// it besides itself: {"application/vnd.ms-excel": ["application/x-ole-storage"]}.
	Equivalent map[string][]string `yaml:"equivalent"`
}

func (v *Verification) validate(at string) []error {
	var errs []error
	mediaType := func(setting, t string) {
		if !mediaRangeRE.MatchString(t) || strings.Contains(t, "*") {
			errs = append(errs, fmt.Errorf("%s.sniff.%s: %q is not a lowercase media type without parameters (like image/png)", at, setting, t))
		}
	}
	for _, t := range v.Sniff.Skip {
		mediaType("skip", t)
	}
	for declared, detected := range v.Sniff.Equivalent {
		mediaType("equivalent", declared)
		for _, t := range detected {
			mediaType("equivalent."+declared, t)
		}
	}
	return errs
}
