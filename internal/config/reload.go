package config

import (
	"reflect"
	"strings"
)

// Reloadable settings: a running gatepost applies changes to these when its
// configuration file changes or on SIGHUP. Every other change needs a
// restart.
var reloadable = map[string]bool{
	"auth.api_keys":      true,
	"auth.mtls.profiles": true,
}

// RestartNeeded lists the settings, by their YAML names (for example
// "auth.jwt.issuer", "profiles"), whose values differ between the running
// configuration and next, other than the reloadable auth.api_keys and
// auth.mtls.profiles: the changes a reload cannot apply.
func RestartNeeded(running, next *Config) []string {
	var changed []string
	diffSettings("", reflect.ValueOf(*running), reflect.ValueOf(*next), &changed)
	return changed
}

// diffSettings appends to changed the settings under prefix that differ
// between the structs a and b, descending into nested structs so that the
// names are as precise as the YAML. Reflection keeps it in step with the
// Config struct as settings are added.
func diffSettings(prefix string, a, b reflect.Value, changed *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		setting := prefix + name
		if reloadable[setting] {
			continue
		}
		fa, fb := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct {
			diffSettings(setting+".", fa, fb, changed)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*changed = append(*changed, setting)
		}
	}
}
